"""A voter who holds only the public connection profile and a wallet votes through the voting
service (no network folder, no Fabric identity), reads their history, and verifies the receipt
offline; an auditor with only the profile fetches the whole chain through the service and audits
it. The operator sets up through the Gateway with the network folder, as an institution does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import PASSPHRASE, Cli, serve, serve_profile
from typer.testing import CliRunner

from mvote.cli import app
from mvote.service._serve import Running
from mvote.verifier._cli import main as verify_main


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cli, Running, Path]]:
    base = tmp_path_factory.mktemp("profile-voter")
    for material, server in serve(base / "network"):
        cli = Cli(material, server.address, base)
        served = serve_profile(cli, server.address, base, postings=False)
        try:
            yield cli, served.running, served.profile
        finally:
            served.running.stop(grace=1)


def _voter(*args: str | Path, code: int = 0) -> dict[str, object]:
    """``mvote ... --json`` as a voter: no network folder, no node address in the environment."""
    result = CliRunner().invoke(
        app,
        [*map(str, args), "--json"],
        env={"MVOTE_PASSPHRASE": PASSPHRASE, "MVOTE_NETWORK": "/nonexistent", "MVOTE_NODE": ""},
        catch_exceptions=False,
    )
    assert result.exit_code == code, result.output
    value: dict[str, object] = json.loads(result.stdout)
    return value


def test_a_voter_with_a_profile_and_a_wallet_votes_and_verifies(
    world: tuple[Cli, Running, Path], tmp_path: Path
) -> None:
    cli, _, profile = world
    assert "PRIVATE KEY" not in profile.read_text()
    wallet = tmp_path / "me.json"
    public = str(_voter("wallet", "create", wallet, "--kdf", "min")["public_key"])
    cli("roster", "create", "park", "--title", "Park users")
    cli("roster", "add", "park", "--key", public)
    cli("roster", "seal", "park")
    cli(
        "question", "create", "--qid", "bench", "--title", "New benches?",
        "-o", "yes", "-o", "no", "--rule", "single", "--roster", "park",
        "--duration", "2h", "--open",
    )  # fmt: skip
    receipt = tmp_path / "receipt.json"
    voted = _voter(
        "vote", "bench", "--wallet", wallet, "-c", "yes", "--receipt", receipt,
        "--profile", profile, "--yes",
    )  # fmt: skip
    assert receipt.is_file(), voted
    refused = _voter(
        "vote", "bench", "--wallet", wallet, "-c", "no", "--profile", profile, "--yes",
        code=1,
    )  # fmt: skip
    assert refused["error"]["code"] == "ALREADY_VOTED"  # type: ignore[index]
    history = _voter("history", "--wallet", wallet, "--profile", profile)
    assert [e["qid"] for e in history["history"]] == ["bench"]  # type: ignore[attr-defined]
    assert verify_main(["receipt", str(receipt), "--profile", str(profile)]) == 0


def test_an_operator_function_through_a_profile_is_refused(
    world: tuple[Cli, Running, Path],
) -> None:
    _, _, profile = world
    result = CliRunner().invoke(
        app, ["question", "list", "--profile", str(profile)], catch_exceptions=False
    )
    assert result.exit_code == 2 and "--profile" in result.output


def test_an_auditor_with_a_profile_fetches_and_audits_the_chain(
    world: tuple[Cli, Running, Path], tmp_path: Path
) -> None:
    _, _, profile = world
    chain = tmp_path / "chain.bin"
    fetched = _voter("fetch-chain", chain, "--profile", profile)
    assert fetched["blocks"] and chain.is_file()
    assert verify_main(["audit", "--chain", str(chain), "--profile", str(profile)]) == 0
