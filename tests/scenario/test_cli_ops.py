"""The command line as users met it (issue 14, section 5): each fix through the real CLI against
one real node (TLS, 3 organisations): in-process through CliRunner, or as the console scripts
where a terminal, the time zone or the installed entry point matters."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import nacl.signing
import pytest
import typer
from cli_support import Cli, serve

from mvote import __version__
from mvote.cli import app
from mvote.cli._common import hint_for, plain_help
from mvote.client._wallet import Wallet

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    base = tmp_path_factory.mktemp("cli-ops")
    for material, server in serve(base / "network"):
        yield Cli(material, server.address, base)


def console(name: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """The installed console script ``name`` (stdin: nothing, as in a script or a pipe)."""
    return subprocess.run(
        [str(BIN / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=env if env is not None else dict(os.environ),
        cwd=cwd,
        check=False,
    )


def public_key(seed: int) -> str:
    return bytes(nacl.signing.SigningKey(bytes([seed]) * 32).verify_key).hex()


def open_question(cli: Cli, qid: str) -> None:
    rid = f"r-{qid}"
    cli("roster", "create", rid, "--title", "Class")
    cli("roster", "add", rid, "--key", public_key(99))
    cli("roster", "seal", rid)
    cli("question", "create", "--qid", qid, "--title", "Trip", "-o", "Jeju", "-o", "Busan",
        "--rule", "single", "--roster", rid, "--open")  # fmt: skip


# --- roster add --------------------------------------------------------------------------------


def test_roster_add_resumes_and_reads_a_csv_with_a_byte_order_mark(
    cli: Cli, tmp_path: Path
) -> None:
    keys = [public_key(i) for i in range(1, 6)]
    part = tmp_path / "part.csv"
    part.write_text("public_key\n" + "\n".join(keys[:2]) + "\n")
    # As a spreadsheet on Windows saves it: UTF-8 with a BOM, CRLF line ends.
    full = tmp_path / "full.csv"
    full.write_bytes("public_key\r\n".encode("utf-8-sig") + "\r\n".join(keys).encode() + b"\r\n")
    cli("roster", "create", "resume", "--title", "Interrupted")

    first = cli.json("roster", "add", "resume", "--csv", part)
    assert (first["added"], first["skipped"], first["roster"]["count"]) == (2, 0, 2)
    # The run that was interrupted after its first batch, run again with the whole list.
    again = cli.json("roster", "add", "resume", "--csv", full)
    assert (again["added"], again["skipped"], again["roster"]["count"]) == (3, 2, 5)
    done = cli("roster", "add", "resume", "--csv", full).stdout
    assert "added 0 voters to resume in 0 transaction(s); 5 already on the roster, skipped" in done
    assert "roster now has 5" in done


def test_already_exists_on_a_roster_entry_says_run_roster_add_again() -> None:
    entry = hint_for("ALREADY_EXISTS", "entries[3]")
    assert "already on the roster" in entry and "mvote roster add" in entry
    assert "choose another id" not in entry
    # The same code on a roster or question id keeps the id hint.
    assert "choose another id" in hint_for("ALREADY_EXISTS", "rid")


# --- hints -------------------------------------------------------------------------------------


def test_tally_of_an_open_question_points_to_the_live_results(cli: Cli) -> None:
    open_question(cli, "still-open")
    refused = cli.json("tally", "still-open", code=1)
    assert refused["error"]["code"] == "QUESTION_OPEN"
    hint = refused["error"]["hint"]
    assert "`mvote results still-open`" in hint and "--close" in hint
    assert "question close" not in hint
    assert "live counts" in cli("results", "still-open").stdout


# --- times -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "name"), [("Asia/Seoul", "KST"), ("UTC", "UTC")])
def test_times_are_shown_in_the_local_zone_with_its_name(cli: Cli, zone: str, name: str) -> None:
    qid = f"times-{name.lower()}"
    open_question(cli, qid)
    record = cli.json("question", "show", qid)
    env = {**os.environ, "TZ": zone, "MVOTE_NETWORK": str(cli.material.directory),
           "MVOTE_NODE": cli.address}  # fmt: skip
    shown = console("mvote", "question", "show", qid, env=env)
    assert shown.returncode == 0, shown.stderr
    opens = datetime.datetime.fromtimestamp(record["schedule"]["opens_at"], ZoneInfo(zone))
    assert f"schedule:    {opens:%Y-%m-%d %H:%M:%S} {name} to " in shown.stdout


# --- passphrases -------------------------------------------------------------------------------


def test_no_passphrase_and_no_terminal_is_no_passphrase_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MVOTE_PASSPHRASE"}
    as_json = console("mvote", "wallet", "create", "w.json", "--kdf", "min", "--json",
                      env=env, cwd=tmp_path)  # fmt: skip
    assert as_json.returncode == 2, as_json.stdout + as_json.stderr
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == "NO_PASSPHRASE" and "--passphrase-file" in error["hint"]
    human = console("mvote", "wallet", "create", "w.json", "--kdf", "min", env=env, cwd=tmp_path)
    assert human.returncode == 2
    assert human.stderr.startswith("error: NO_PASSPHRASE: passphrase: none given")
    assert "Aborted" not in human.stdout + human.stderr
    assert not (tmp_path / "w.json").exists()


# --- no node -----------------------------------------------------------------------------------


def test_export_without_a_node_is_unavailable_as_every_command_says_it(
    cli: Cli, tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        nobody = f"127.0.0.1:{probe.getsockname()[1]}"
    listed = cli.json("question", "list", "--node", nobody, code=2)["error"]
    exported = cli.json("export", tmp_path / "chain.bin", "--node", nobody, code=2)["error"]
    assert exported["code"].endswith("/UNAVAILABLE") and listed["code"].endswith("/UNAVAILABLE")
    assert exported["hint"] == listed["hint"]
    assert "Rendezvous" not in exported["message"] and "failed to connect" in exported["message"]
    human = cli("export", tmp_path / "chain.bin", "--node", nobody, code=2).output
    assert "error: DELIVER_FAILED/UNAVAILABLE: deliver: failed to connect" in human
    assert not (tmp_path / "chain.bin").exists()


# --- files -------------------------------------------------------------------------------------


def test_every_file_error_names_the_file(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "wallets"
    folder.mkdir()
    Wallet.create("a long passphrase", seed=b"\x01" * 32).save(folder / "good.json")
    (folder / "broken.json").write_text('{"x": 1}')
    cli("roster", "create", "files", "--title", "Files")
    wallets = cli.json("roster", "add", "files", "--wallets", folder, code=2)["error"]
    assert str(folder / "broken.json") in wallets["message"]
    broken = folder / "broken.json"
    voted = cli.json("vote", "x", "--wallet", broken, "-c", "0", code=2)["error"]
    assert str(broken) in voted["message"]
    credential = cli.json("vote", "x", "--wallet", folder / "good.json", "-c", "0",
                          "--credential", broken, code=2)["error"]  # fmt: skip
    assert str(broken) in credential["message"]
    missing = cli.json("roster", "add", "files", "--csv", tmp_path / "none.csv", code=2)["error"]
    assert str(tmp_path / "none.csv") in missing["message"]
    unwritable = cli.json("export", tmp_path / "none" / "x" / "..", code=2)["error"]
    assert str(tmp_path / "none") in unwritable["message"]

    receipt = console("mvote-verify", "receipt", str(broken), "--genesis-hash", "00" * 32)
    assert receipt.returncode == 2 and str(broken) in receipt.stderr
    chain = console("mvote-verify", "audit", "--chain", str(tmp_path / "no.bin"),
                    "--genesis-hash", "00" * 32)  # fmt: skip
    assert chain.returncode == 2 and str(tmp_path / "no.bin") in chain.stderr
    profile = console("mvote-verify", "receipt", str(broken), "--profile", str(tmp_path / "p"))
    assert profile.returncode == 2 and str(tmp_path / "p") in profile.stderr
    member = cli.material.org("cityhall").client
    tls = console("mvote-verify", "audit", "--node", cli.address, "--msp", str(member.msp_dir),
                  "--msp-id", member.msp_id, "--tls-ca", str(tmp_path / "ca.crt"),
                  "--genesis-hash", "00" * 32)  # fmt: skip
    assert tls.returncode == 2 and f"--tls-ca: cannot read {tmp_path / 'ca.crt'}" in tls.stderr


# --- version, help and mvote-verify's style ------------------------------------------------------


def test_both_commands_tell_their_version() -> None:
    # The version is written twice: the package's metadata and the code's.
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert f'\nversion = "{__version__}"\n' in pyproject
    assert importlib.metadata.version("mvote") == __version__
    mvote = console("mvote", "--version")
    verify = console("mvote-verify", "--version")
    assert (mvote.returncode, mvote.stdout) == (0, f"mvote {__version__}\n")
    assert (verify.returncode, verify.stdout) == (0, f"mvote-verify {__version__}\n")


def _helps(command: object, path: list[str]) -> Iterator[tuple[str, str]]:
    ctx = typer._click.Context(command, info_name=" ".join(path))  # type: ignore[attr-defined]
    yield " ".join(path), command.get_help(ctx)  # type: ignore[attr-defined]
    for name, sub in getattr(command, "commands", {}).items():
        yield from _helps(sub, [*path, name])


def test_help_shows_no_bool_python_types_or_parameter_names() -> None:
    command = typer.main.get_command(app)
    plain_help(command)
    helps = dict(_helps(command, ["mvote"]))
    assert len(helps) > 30
    for where, text in helps.items():
        for internal in ("<bool>", "<str>", "<path>", "<int>", "list[str]", "{rid}", "{qid}"):
            assert internal not in text, f"{where}: {internal}"
    # The installed command is the same.
    shown = console("mvote", "roster", "add", "--help").stdout
    assert "<bool>" not in shown and "--csv PATH" in shown and "--json " in shown


def test_mvote_verify_speaks_as_mvote_does(tmp_path: Path) -> None:
    json_line = "Print the result as JSON on stdout."
    assert json_line in console("mvote-verify", "receipt", "--help").stdout
    assert json_line in console("mvote", "export", "--help").stdout
    assert "--node HOST:PORT" in console("mvote-verify", "audit", "--help").stdout

    missing = tmp_path / "none.json"
    verify = console("mvote-verify", "receipt", str(missing), "--genesis-hash", "00" * 32, "--json")
    mvote = console("mvote", "wallet", "show", str(missing), "--json")
    assert verify.returncode == mvote.returncode == 2
    verify_error, mvote_error = json.loads(verify.stdout), json.loads(mvote.stdout)
    assert set(mvote_error) <= set(verify_error) and verify_error["verified"] is False
    assert set(verify_error["error"]) == set(mvote_error["error"])
    assert verify_error["exit_code"] == mvote_error["exit_code"] == 2

    human = console("mvote-verify", "receipt", str(missing), "--genesis-hash", "00" * 32)
    assert human.stderr.startswith("error: UNREADABLE: ")
    usage = console("mvote-verify", "bogus")
    assert usage.returncode == 2 and "error: USAGE: " in usage.stderr
    assert "what to do: `mvote-verify --help`" in usage.stderr
