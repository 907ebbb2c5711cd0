"""Every ``mvote`` command against one real node (TLS, 3 organisations), through CliRunner:
human and ``--json`` output, refusals (exit 1) and bad input (exit 2) with what to do."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
from cli_support import Cli, serve

from mvote.chaincode import _keys as keys
from mvote.chaincode import _records as records
from mvote.client._channel import Committed, GatewayChannel
from mvote.client._errors import CommitStatusError
from mvote.client._wallet import Wallet
from mvote.verifier import _cli as verify_cli
from mvote.verifier._receipt import Receipt


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    base = tmp_path_factory.mktemp("cli")
    for material, server in serve(base / "network"):
        yield Cli(material, server.address, base)


def _wallet(cli: Cli, path: Path) -> str:
    return str(cli.json("wallet", "create", path, "--kdf", "min")["public_key"])


def test_wallet_create_show_export_import(cli: Cli, tmp_path: Path) -> None:
    wallet = tmp_path / "me.json"
    created = cli.json("wallet", "create", wallet, "--kdf", "min")
    assert stat.S_IMODE(wallet.stat().st_mode) == 0o600
    shown = cli.json("wallet", "show", wallet)
    assert shown["public_key"] == created["public_key"]
    assert shown["voter_hash"] == keys.voter_hash(bytes.fromhex(created["public_key"])).hex()
    assert "public key" in cli("wallet", "show", wallet).stdout

    # Never overwritten; a passphrase from a file works as well as from the environment.
    refused = cli("wallet", "create", wallet, "--kdf", "min", code=2)
    assert "never overwritten" in refused.output
    secret = tmp_path / "pass.txt"
    secret.write_text("from a file\n")
    other = tmp_path / "other.json"
    cli("wallet", "create", other, "--kdf", "min", "--passphrase-file", secret)
    Wallet.load(other).unlock("from a file")

    exported = tmp_path / "transfer.json"
    cli("wallet", "export", wallet, exported, "--kdf", "min", MVOTE_NEW_PASSPHRASE="transfer")
    assert Wallet.load(exported).public_key == created["public_key"]
    Wallet.load(exported).unlock("transfer")

    imported = tmp_path / "device.json"
    cli(
        "wallet",
        "import",
        exported,
        imported,
        "--kdf",
        "min",
        MVOTE_PASSPHRASE="transfer",
        MVOTE_NEW_PASSPHRASE="mine",
    )
    key = Wallet.load(imported).unlock("mine")
    assert bytes(key.verify_key).hex() == created["public_key"]

    wrong = cli.json(
        "wallet",
        "export",
        wallet,
        tmp_path / "x.json",
        "--kdf",
        "min",
        code=2,
        MVOTE_PASSPHRASE="not it",
        MVOTE_NEW_PASSPHRASE="y",
    )
    assert wrong["error"]["code"] == "WRONG_PASSPHRASE"
    assert "passphrase" in wrong["error"]["hint"]
    assert not (tmp_path / "x.json").exists()


def test_roster_question_with_onsite_code_vote_results_history_tally(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "wallets"
    voters = [_wallet(cli, folder / f"v{i}.json") for i in range(3)]
    assert len(set(voters)) == 3
    late = _wallet(cli, tmp_path / "late.json")
    listed = tmp_path / "voters.csv"
    listed.write_text(f"name,public_key\nlate,{late}\n")

    cli("roster", "create", "class-3b", "--title", "Class 3B")
    # One entry per transaction here, to see the batching (MAX_ROSTER_BATCH in real use).
    monkeypatch.setattr(records, "MAX_ROSTER_BATCH", 2)
    added = cli.json("roster", "add", "class-3b", "--wallets", folder)
    assert added["added"] == 3 and added["batches"] == 2
    assert "added 1 voters" in cli("roster", "add", "class-3b", "--csv", listed).stdout
    header = cli.json("roster", "show", "class-3b")
    assert header["count"] == 4 and not header["sealed"]
    assert "sealed roster class-3b: 4 voters" in cli("roster", "seal", "class-3b").stdout
    sealed = cli.json("roster", "add", "class-3b", "--key", "ab" * 32, code=1)
    assert sealed["error"]["code"] == "ROSTER_SEALED"

    created = cli.json(
        "question",
        "create",
        "--qid",
        "trip",
        "--title",
        "Where should the class trip go?",
        "-o",
        "Gyeongju",
        "-o",
        "Jeju",
        "-o",
        "Sokcho",
        "--rule",
        "single",
        "--roster",
        "class-3b",
        "--onsite-code",
        "HALL-7",
        "--duration",
        "2h",
        "--open",
    )
    assert created["question"]["state"] == "OPEN"
    assert created["question"]["eligibility"]["kind"] == "onsite"
    shown = cli("question", "show", "trip").stdout
    assert "roster class-3b + on-site code" in shown and "    2  Jeju" in shown

    receipt = tmp_path / "receipt.json"
    first = folder / "v0.json"
    cast = cli.json(
        "vote", "trip", "--wallet", first, "-c", "Jeju", "--code", "HALL-7", "--receipt", receipt,
        "--yes",
    )  # fmt: skip
    assert cast["choices"] == [1] and cast["receipt"] == str(receipt)
    saved = Receipt.from_bytes(receipt.read_bytes())
    assert (saved.tx_id, saved.block, saved.tracker) == (cast["tx"], cast["block"], cast["tracker"])
    assert cast["genesis_hash"] == cli.material.genesis_hash.hex()
    anchor = ["--genesis-hash", cast["genesis_hash"]]
    assert verify_cli.main(["receipt", str(receipt), *anchor]) == 0

    again = cli(
        "vote", "trip", "--wallet", first, "-c", "1", "--code", "HALL-7", "--yes",
        "--receipt", tmp_path / "again.json", code=1,
    )  # fmt: skip
    assert "refused: ALREADY_VOTED" in again.output and "what to do" in again.output
    wrong_code = cli.json(
        "vote", "trip", "--wallet", folder / "v1.json", "-c", "1", "--yes",
        "--receipt", tmp_path / "wrong.json", code=1,
    )  # fmt: skip
    assert wrong_code["error"]["code"] == "BAD_ONSITE_CODE"
    no_such = cli.json(
        "vote", "trip", "--wallet", first, "-c", "7", "--receipt", tmp_path / "none.json", code=2
    )
    assert "not an option number" in no_such["error"]["message"]
    for wallet, pick in ((folder / "v1.json", "2"), (folder / "v2.json", "Sokcho")):
        cli(
            "vote", "trip", "--wallet", wallet, "-c", pick, "--code", "HALL-7",
            "--receipt", tmp_path / f"r-{pick}.json", "--yes",
        )  # fmt: skip

    live = cli.json("results", "trip")
    assert (live["final"], live["ballots"], live["counts"]) == (False, 3, [0, 2, 1])
    assert "live counts, not final" in cli("results", "trip").stdout

    history = cli.json("history", "--wallet", first)
    assert [(h["qid"], h["tracker"]) for h in history["history"]] == [("trip", cast["tracker"])]
    assert "has not voted yet" in cli("history", "--voter", late).stdout

    still_open = cli.json("tally", "trip", code=1)
    assert still_open["error"]["code"] == "QUESTION_OPEN"
    assert "--close" in still_open["error"]["hint"]
    tallied = cli.json("tally", "trip", "--close")
    assert tallied["tally"]["ballots"] == 3 and tallied["tally"]["counts"] == [0, 2, 1]
    assert tallied["tally"]["eligible"] == 4
    final = cli("results", "trip").stdout
    assert "final tally" in final and "outcome: Jeju" in final
    # The receipt now also shows the ballot was counted, against the exported chain.
    chain = tmp_path / "chain.bin"
    cli("export", chain)
    assert verify_cli.main(["receipt", str(receipt), "--chain", str(chain), *anchor]) == 0


def test_tally_in_small_batches_and_again_after_its_acknowledgement_was_lost(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "wallets"
    for i in range(6):
        _wallet(cli, folder / f"v{i}.json")
    cli("roster", "create", "club", "--title", "Chess club")
    cli("roster", "add", "club", "--wallets", folder)
    cli("roster", "seal", "club")
    cli(
        "question",
        "create",
        "--qid",
        "captain",
        "--title",
        "Who captains the club?",
        "-o",
        "Ann",
        "-o",
        "Bo",
        "--rule",
        "single",
        "--roster",
        "club",
        "--shards",
        "1",
        "--duration",
        "2h",
        "--open",
    )
    for i in range(6):
        wallet, receipt = folder / f"v{i}.json", tmp_path / f"r{i}.json"
        cli(
            "vote",
            "captain",
            "--wallet",
            wallet,
            "-c",
            str(i % 2 + 1),
            "--receipt",
            receipt,
            "--yes",
        )

    # The node commits the Tally, but its acknowledgement never reaches the command.
    lost: list[Committed] = []
    transact = GatewayChannel.transact

    def ack_lost(self: GatewayChannel, creator: bytes, function: str, *args: bytes | str) -> Any:
        committed = transact(self, creator, function, *args)
        if function != "Tally":
            return committed
        lost.append(committed)
        raise CommitStatusError(
            "the connection dropped before the commit status arrived",
            grpc_code="DEADLINE_EXCEEDED",
            transaction_id=committed.transaction_id,
        )

    with monkeypatch.context() as patched:
        patched.setattr(GatewayChannel, "transact", ack_lost)
        # Six ballots in one shard, two per Aggregate: every scan but the last stops early.
        first = cli.json("tally", "captain", "--close", "--batch", "2")
    [committed] = lost
    assert first["already_tallied"] is True
    assert (first["tx"], first["block"]) == (committed.transaction_id, committed.block_number)
    assert first["aggregate_transactions"] == 4  # 3 full batches, then the call that finds the end
    assert (first["tally"]["ballots"], first["tally"]["counts"]) == (6, [3, 3])

    # Run again: the recorded tally, exit 0, nothing submitted.
    again = cli.json("tally", "captain")
    assert again["already_tallied"] is True and again["aggregate_transactions"] == 0
    assert (again["tally"], again["tx"], again["block"]) == (
        first["tally"],
        first["tx"],
        first["block"],
    )
    human = cli("tally", "captain").stdout
    assert f"already TALLIED in block {first['block']}" in human
    assert "ballots: 6" in human and "outcome: Ann, Bo" in human


def test_open_question_from_a_spec_file_with_registrar_credentials(
    cli: Cli, tmp_path: Path
) -> None:
    registrar = tmp_path / "registrar.json"
    made = cli.json("registrar", "keygen", registrar, "--kdf", "min")
    spec = tmp_path / "parks.yaml"
    spec.write_text(
        "qid: parks\n"
        "title: Pick up to 2 park improvements\n"
        "options: [Benches, Trees, Lights, Fountain, Paths]\n"
        "rule: {kind: multi, min: 1, max: 2}\n"
        f"eligibility: {{kind: open, registrars: ['{made['public_key']}']}}\n"
        "shards: 2\n"
    )
    draft = cli.json("question", "create", spec, "--duration", "1h")
    assert draft["question"]["state"] == "DRAFT"
    assert "opened: now OPEN" in cli("question", "open", "parks").stdout

    voter = tmp_path / "citizen.json"
    public = _wallet(cli, voter)
    credential = tmp_path / "credential.json"
    issued = cli.json(
        "credential",
        "issue",
        "--registrar",
        registrar,
        "--voter-wallet",
        voter,
        "--qid",
        "parks",
        "--expires-in",
        "1d",
        "--out",
        credential,
    )
    assert issued["credential"]["body"]["voter"] == public
    assert issued["credential"]["body"]["scope"] == "parks"
    assert json.loads(credential.read_text()) == issued["credential"]

    without = cli.json(
        "vote", "parks", "--wallet", voter, "-c", "1", "--yes",
        "--receipt", tmp_path / "without.json", code=1,
    )  # fmt: skip
    assert without["error"]["code"] in ("NOT_ELIGIBLE", "BAD_CREDENTIAL")
    too_many = cli.json(
        "vote",
        "parks",
        "--wallet",
        voter,
        "-c",
        "1",
        "-c",
        "2",
        "-c",
        "3",
        "--credential",
        credential,
        "--receipt",
        tmp_path / "many.json",
        code=2,
    )
    assert too_many["error"]["code"] == "RULE_VIOLATION"
    ok = cli.json(
        "vote",
        "parks",
        "--wallet",
        voter,
        "-c",
        "trees",
        "-c",
        "5",
        "--credential",
        credential,
        "--receipt",
        tmp_path / "r.json",
        "--yes",
    )
    assert ok["choices"] == [1, 4]

    closed = cli.json("question", "close", "parks", "--reason", "period over")
    assert closed["question"]["state"] == "CLOSED"
    tallied = cli.json("tally", "parks", "--batch", "1")
    assert tallied["aggregate_transactions"] >= 2  # two shards, one Aggregate each at least
    assert tallied["tally"]["counts"] == [0, 1, 0, 0, 1]
    assert "TALLIED" in cli("question", "show", "parks").stdout

    # A JSON spec file, then a cancellation, and the list shows every state.
    other = tmp_path / "other.json"
    other.write_text(
        json.dumps(
            {
                "qid": "fountain",
                "title": "Restore the fountain?",
                "options": ["yes", "no"],
                "rule": {"kind": "yesno", "threshold_bp": 5000, "min_turnout": {"kind": "none"}},
                "eligibility": {"kind": "open", "registrars": [made["public_key"]]},
            }
        )
    )
    cli("question", "create", other, "--opens-at", "now", "--closes-at", "+3d")
    cancelled = cli.json("question", "cancel", "fountain", "--reason", "budget")
    assert cancelled["question"]["state"] == "CANCELLED"
    states = {q["qid"]: q["state"] for q in cli.json("question", "list")}
    assert states["parks"] == "TALLIED" and states["fountain"] == "CANCELLED"
    assert "fountain" in cli("question", "list").stdout


def test_errors_say_what_to_do_with_exit_codes(cli: Cli, tmp_path: Path) -> None:
    missing = cli("question", "show", "nope", code=1)
    assert "refused: NOT_FOUND" in missing.output
    assert "mvote question list" in missing.output
    assert cli.json("question", "show", "nope", code=1)["error"]["code"] == "NOT_FOUND"

    registrar = bytes(nacl.signing.SigningKey(b"\x09" * 32).verify_key).hex()
    cli(
        "question",
        "create",
        "--qid",
        "owned",
        "--title",
        "Owned by city hall",
        "-o",
        "a",
        "-o",
        "b",
        "--rule",
        "single",
        "--registrar",
        registrar,
    )
    other_org = cli.json("question", "open", "owned", "--org", "district", code=1)
    assert other_org["error"]["code"] == "UNAUTHORISED"
    assert "--org" in other_org["error"]["hint"]
    clients_cannot = cli.json("question", "open", "owned", "--identity", "client", code=1)
    assert clients_cannot["error"]["code"] == "UNAUTHORISED"

    incomplete = cli.json("question", "create", "--qid", "half", code=2)
    assert "missing" in incomplete["error"]["message"]
    bad_field = cli.json(
        "question", "create", "--qid", "Bad Id", "--title", "t", "-o", "a", "-o", "b",
        "--rule", "single", "--registrar", registrar, code=2,
    )  # fmt: skip
    assert bad_field["error"]["code"] == "INVALID_FIELD"
    assert cli.json("question", "list", "--network", tmp_path, code=2)["error"]["code"] == (
        "NO_NETWORK"
    )
    unreachable = cli.json("question", "list", "--node", "127.0.0.1:1", code=2)
    assert unreachable["error"]["code"].endswith("UNAVAILABLE")
    assert "mvote node start" in unreachable["error"]["hint"]
    assert cli.json("history", code=2)["error"]["code"] == "USAGE"
    assert cli("vote", "owned", "--wallet", tmp_path / "none.json", "-c", "0", code=2)


def test_export_writes_a_chain_the_verifier_audits(cli: Cli, tmp_path: Path) -> None:
    chain = tmp_path / "exported.bin"
    done = cli.json("export", chain)
    assert done["blocks"] >= 2 and chain.stat().st_size == done["bytes"]
    assert done["genesis_hash"] == cli.material.genesis_hash.hex()
    assert "mvote-verify audit" in cli("export", tmp_path / "again.bin").stdout
    code = verify_cli.main(["audit", "--chain", str(chain), "--genesis-hash", done["genesis_hash"]])
    assert code == 0
