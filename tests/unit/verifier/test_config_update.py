"""Config transactions after the genesis block are checked as Fabric's configtx validator checks
them: real config updates over a network made by ``mvote network init``, signed with its real
admin keys, in CONFIG blocks signed by its orderer; the cases of tests/vectors/config_updates.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from configchain import ConfigChain, Update, set_application_policy
from fabric_protos.orderer import configuration_pb2 as orderer_cfg

from mvote.client._identity import Signer, load_signer
from mvote.node.material import NetworkMaterial, init_network
from mvote.verifier._chain import CHECKS, ChainReport, Finding, verify_chain
from mvote.verifier._cli import main as verify_main
from mvote.verifier._config import channel_config_from_block
from mvote.verifier._configtx import mod_policy_path
from mvote.verifier._envelope import unpack_block
from mvote.verifier._transaction import ParsedTransaction

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "config_updates.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]
ADMINS = "/Channel/Application/Admins"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> NetworkMaterial:
    return init_network(tmp_path_factory.mktemp("cfg") / "net", "cityhall,district,education")


def _batch_size(count: int) -> Callable[[Any], None]:
    def change(group: Any) -> None:
        value = group.groups["Orderer"].values["BatchSize"]
        bs = orderer_cfg.BatchSize.FromString(value.value)
        bs.max_message_count = count
        value.value = bs.SerializeToString()

    return change


UPDATES: dict[str, Callable[[Any], None]] = {
    "application_admins_any": set_application_policy("Admins", "ANY"),
    "orderer_batch_size": _batch_size(7),
}


def _signer(chain: ConfigChain, name: str) -> Signer:
    if name == "orderer_admin":
        return chain.orderer_admin()
    kind, _, org = name.partition(":")
    return chain.admin(org) if kind == "admin" else chain.client(org)


def _mutate(u: Update, mutation: str | None) -> None:
    if mutation is None:
        return
    # Every mutation is of the application_admins_any update (indexing a map inserts a key).
    app_write = u.update.write_set.groups["Application"]
    if mutation == "tamper_signatures":
        u.tamper_signatures = True
    elif mutation == "write_version_current":
        app_write.policies["Admins"].version = 0
    elif mutation == "write_version_plus_two":
        app_write.policies["Admins"].version = 2
    elif mutation == "new_policy_version_1":
        app_write.policies["Extra"].CopyFrom(app_write.policies["Admins"])
        app_write.policies["Extra"].version = 1
    elif mutation == "read_version_plus_one":
        u.update.read_set.groups["Application"].version = 1
    elif mutation == "read_unknown_value":
        u.update.read_set.groups["Application"].values["Nonexistent"].version = 0
    elif mutation == "write_equals_read":
        u.update.write_set.CopyFrom(u.update.read_set)
    elif mutation == "illegal_mod_policy":
        app_write.policies["Admins"].mod_policy = "Ad mins"
    elif mutation == "sequence_plus_one":
        u.config.sequence += 1
    elif mutation == "other_channel":
        u.update.channel_id = "otherchannel"
    elif mutation == "no_last_update":
        u.extra["no_last_update"] = True
    elif mutation == "config_batch_size":
        _batch_size(3)(u.config.channel_group)
    else:
        raise AssertionError(f"unknown mutation {mutation}")


def _tx_id(raw_block: bytes) -> str:
    return str(ParsedTransaction.parse(unpack_block(raw_block).data[0]).tx_id)


def _only(report: ChainReport) -> Finding:
    assert len(report.findings) == 1, [str(f) for f in report.findings]
    return report.findings[0]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_config_update_vector(network: NetworkMaterial, case: dict[str, Any]) -> None:
    chain = ConfigChain(network)
    u = chain.propose(UPDATES[case["update"]], [_signer(chain, s) for s in case["signers"]])
    _mutate(u, case["mutation"])
    block = chain.config_block(u)
    report = verify_chain(chain.blocks, network.genesis_hash)
    if case["check"] is None:
        assert report.verified, [str(f) for f in report.findings]
        return
    finding = _only(report)
    assert (finding.block, finding.tx_index, finding.tx_id) == (1, 0, _tx_id(block))
    assert (finding.check, finding.code) == (case["check"], case["code"])
    assert finding.check in CHECKS


def test_too_few_admins_names_block_transaction_and_policy(network: NetworkMaterial) -> None:
    chain = ConfigChain(network)
    u = chain.propose(set_application_policy("Admins", "ANY"), [chain.admin("cityhall")])
    block = chain.config_block(u)
    finding = _only(verify_chain(chain.blocks, network.genesis_hash))
    assert str(finding) == (
        f"block 1 tx 0 ({_tx_id(block)}): config_mod_policy: write_set: "
        f"[Policy] /Channel/Application/Admins: signatures by ['CityhallMSP'] do not satisfy "
        f"its mod_policy {ADMINS}"
    )
    assert finding.code == "VERIFY_CONFIG_MOD_POLICY"


def test_majority_update_governs_later_blocks(network: NetworkMaterial) -> None:
    """Block 1 (2 of 3 admins) makes /Channel/Application/Admins ANY; block 2, one admin's
    update, is then accepted, and the same one-admin update on the genesis config is not."""
    chain = ConfigChain(network)
    first = chain.propose(
        set_application_policy("Admins", "ANY"), [chain.admin("cityhall"), chain.admin("district")]
    )
    chain.config_block(first)
    chain.accept(first)
    lone = [chain.admin("education")]
    second = chain.propose(set_application_policy("Endorsement", "ANY"), lone)
    chain.config_block(second)
    assert verify_chain(chain.blocks, network.genesis_hash).verified

    fresh = ConfigChain(network)
    alone = fresh.propose(set_application_policy("Endorsement", "ANY"), [fresh.admin("education")])
    fresh.config_block(alone)
    finding = _only(verify_chain(fresh.blocks, network.genesis_hash))
    assert finding.check == "config_mod_policy" and ADMINS in finding.message

    # An update still computed against the genesis versions no longer applies after block 1.
    stale = ConfigChain(network)
    stale_update = stale.propose(
        set_application_policy("Endorsement", "ANY"),
        [chain.admin("cityhall"), chain.admin("district")],
    )
    stale_update.update.read_set.groups["Application"].policies["Admins"].version = 0
    stale_update.config.sequence = 3
    chain.config_block(stale_update)
    finding = _only(verify_chain(chain.blocks, network.genesis_hash))
    assert (finding.block, finding.check) == (3, "config_read_set")
    assert "[Policy] /Channel/Application/Admins: expected version 1" in finding.message


def test_refused_update_leaves_config_in_force(network: NetworkMaterial) -> None:
    """After a refused config block the old config still governs: the next (valid) update is
    checked against sequence 0's versions and policies."""
    chain = ConfigChain(network)
    forged = chain.propose(set_application_policy("Admins", "ANY"), [chain.admin("cityhall")])
    chain.config_block(forged)
    honest = chain.propose(
        set_application_policy("Admins", "ANY"),
        [chain.admin("district"), chain.admin("education")],
    )
    chain.config_block(honest)
    finding = _only(verify_chain(chain.blocks, network.genesis_hash))
    assert (finding.block, finding.check) == (1, "config_mod_policy")


def test_config_block_names_itself_as_last_config(network: NetworkMaterial) -> None:
    chain = ConfigChain(network)
    u = chain.propose(
        set_application_policy("Admins", "ANY"), [chain.admin("cityhall"), chain.admin("district")]
    )
    chain.config_block(u, last_config=0)
    finding = _only(verify_chain(chain.blocks, network.genesis_hash))
    assert finding.check == "last_config"
    assert finding.message.endswith("expected 1, got 0")


def test_audit_cli_refuses_with_named_check_and_code(
    network: NetworkMaterial, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chain = ConfigChain(network)
    u = chain.propose(_batch_size(7), [chain.admin("cityhall"), chain.admin("district")])
    chain.config_block(u)
    folder = tmp_path / "chain"
    folder.mkdir()
    for i, raw in enumerate(chain.blocks):
        (folder / f"{i:06d}.block").write_bytes(raw)
    argv = ["audit", "--chain", str(folder), "--genesis-hash", network.genesis_hash.hex()]
    assert verify_main([*argv, "--no-replay", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    (finding,) = report["findings"]
    assert finding["block"] == 1 and finding["tx_index"] == 0
    assert (finding["check"], finding["code"]) == ("config_mod_policy", "VERIFY_CONFIG_MOD_POLICY")
    assert "/Channel/Orderer/Admins" in finding["message"]


def test_mod_policy_paths_follow_fabrics_policy_for_item(network: NetworkMaterial) -> None:
    from mvote.verifier._configtx import config_map

    config = channel_config_from_block(network.genesis.raw)
    elements = config_map(config.source.channel_group, "config")
    assert mod_policy_path(elements["[Group]  /Channel"]) == "/Channel/Admins"
    assert mod_policy_path(elements["[Group]  /Channel/Application"]) == ADMINS
    assert (
        mod_policy_path(elements["[Group]  /Channel/Application/CityhallMSP"])
        == "/Channel/Application/CityhallMSP/Admins"
    )
    assert mod_policy_path(elements["[Value]  /Channel/Orderer/BatchSize"]) == (
        "/Channel/Orderer/Admins"
    )
    assert mod_policy_path(elements["[Value]  /Channel/HashingAlgorithm"]) == "/Channel/Admins"
    for item in elements.values():
        assert config.policy(mod_policy_path(item)) is not None, item.name


def test_added_org_counts_in_the_majority_of_later_updates(
    network: NetworkMaterial, tmp_path: Path
) -> None:
    """Block 1 adds a fourth organisation (its own CA, from another `mvote network init`),
    signed by 2 of the 3 admins; from then on /Channel/Application/Admins needs 3 of 4 admins,
    and the new org's admin is one of them."""
    other = init_network(tmp_path / "other", "harbour")
    harbour = other.org("harbour")
    harbour_group = other.genesis.config.channel_group.groups["Application"].groups[
        harbour.group_name
    ]

    def add_harbour(group: Any) -> None:
        group.groups["Application"].groups[harbour.group_name].CopyFrom(harbour_group)

    chain = ConfigChain(network)
    two = [chain.admin("cityhall"), chain.admin("district")]
    added = chain.propose(add_harbour, two)
    assert added.update.write_set.groups["Application"].version == 1
    chain.config_block(added)
    assert verify_chain(chain.blocks, network.genesis_hash).verified
    chain.accept(added)

    refused = chain.propose(set_application_policy("Endorsement", "ANY"), two)
    chain.config_block(refused)
    finding = _only(verify_chain(chain.blocks, network.genesis_hash))
    assert (finding.block, finding.check) == (2, "config_mod_policy")
    assert ADMINS in finding.message
    chain.blocks.pop()

    three = [*two, load_signer(harbour.admin.msp_dir, harbour.msp_id)]
    accepted = chain.propose(set_application_policy("Endorsement", "ANY"), three)
    chain.config_block(accepted)
    assert verify_chain(chain.blocks, network.genesis_hash).verified
