"""Trustees and an auditing voter who hold only the public connection profile and their own key
files, against a real node with city hall's voting service in front of it: each trustee deals,
checks and decrypts with ``mvote trustee ... --profile`` (verified reads over the service's
GetBlocks, postings relayed by the service and signed by the trustee's own key); a voter audits
a secret ballot with ``mvote vote --audit --profile`` and ``mvote-verify spoiled`` checks the file
from the genesis hash; then votes. The operator acts through the Gateway with the network folder,
as an institution does (create and complete the ceremony, the question, close and tally)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import Cli, ProfileService, serve, serve_profile

from mvote.verifier._cli import main as verify_main

#: A command run as a trustee or a voter: no network folder, no node address.
NO_NETWORK = {"MVOTE_NETWORK": "/nonexistent", "MVOTE_NODE": ""}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cli, ProfileService]]:
    base = tmp_path_factory.mktemp("profile-trustee")
    for material, server in serve(base / "network"):
        cli = Cli(material, server.address, base)
        served = serve_profile(cli, server.address, base, postings=True)
        try:
            yield cli, served
        finally:
            served.running.stop(grace=1)


def _as_user(cli: Cli, profile: Path, *args: str | Path, code: int = 0) -> Any:
    return cli.json(*args, "--profile", profile, code=code, **NO_NETWORK)


def test_trustees_and_an_auditing_voter_work_through_a_profile(
    world: tuple[Cli, ProfileService], tmp_path: Path
) -> None:
    cli, served = world
    profile = served.profile
    files = [tmp_path / f"trustee-{i}.json" for i in (1, 2)]
    keygens = [
        cli.json("trustee", "keygen", f, "--ceremony", "pb", "-n", "2", "-k", "2",
                 "--index", str(i), "--kdf", "min")
        for i, f in enumerate(files, 1)
    ]  # fmt: skip
    regs = [Path(k["registration_file"]) for k in keygens]
    cli.json("trustee", "ceremony", "create", "pb", *regs, "--threshold", "2")

    # Deal and check through the profile: the service relays, the chain is read verified.
    deals = [_as_user(cli, profile, "trustee", "ceremony", "deal", "--trustee", f) for f in files]
    assert [d["dealing"]["trustee"] for d in deals] == [1, 2]
    checks = [_as_user(cli, profile, "trustee", "check", "--trustee", f) for f in files]
    assert [c["complaints"] for c in checks] == [[], []]
    # A trustee through a profile is no institution: the owner's operator completes.
    assert checks[-1]["ceremony"] is None
    shown = _as_user(cli, profile, "trustee", "ceremony", "show", "pb")
    assert (shown["dealt"], shown["checked"]) == ([1, 2], [1, 2])
    cli.json("trustee", "ceremony", "complete", "pb")

    wallets = [tmp_path / f"v{i}.json" for i in range(2)]
    for w in wallets:
        cli.json("wallet", "create", w, "--kdf", "min")
    keys = [str(cli.json("wallet", "show", w)["public_key"]) for w in wallets]
    cli("roster", "create", "pbr", "--title", "Members")
    for key in keys:
        cli("roster", "add", "pbr", "--key", key)
    cli("roster", "seal", "pbr")
    cli(
        "question", "create", "--qid", "pq", "--title", "Adopt it?", "-o", "Yes", "-o", "No",
        "--rule", "yesno", "--roster", "pbr", "--mode", "secret", "--election", "pb", "--open",
    )  # fmt: skip

    # Cast-or-audit through the profile: audited, the file checks from the genesis hash alone.
    spoiled_file = tmp_path / "spoiled.json"
    spoiled = _as_user(
        cli, profile, "vote", "pq", "--wallet", wallets[0], "-c", "No", "--audit",
        "--spoiled", spoiled_file,
    )  # fmt: skip
    assert (spoiled["audited"], spoiled["cast"], spoiled["matches"]) == (True, False, True)
    genesis = cli.material.genesis_hash.hex()
    assert verify_main(["spoiled", str(spoiled_file), "--genesis-hash", genesis]) == 0
    for w, pick in zip(wallets, ("Yes", "Yes"), strict=True):
        receipt = tmp_path / f"receipt-{w.stem}.json"
        _as_user(
            cli, profile, "vote", "pq", "--wallet", w, "-c", pick, "--receipt", receipt, "--yes"
        )

    # Decrypt through the profile, once the operator closed and aggregated.
    cli.json("tally", "pq", "--close", code=1)  # no decryptions yet: refused, aggregated
    decrypted = [_as_user(cli, profile, "trustee", "decrypt", "pq", "--trustee", f) for f in files]
    assert all(d["block"] > 0 for d in decrypted)
    tally = cli.json("tally", "pq")
    assert tally["tally"]["counts"] == [2, 0], tally


def test_an_operator_step_through_a_profile_is_refused(
    world: tuple[Cli, ProfileService],
) -> None:
    cli, served = world
    refused = cli(
        "trustee", "ceremony", "complete", "pb", "--profile", served.profile, code=2, **NO_NETWORK
    )
    assert "--profile" in refused.output
