"""``mvote vote`` as a voter meets it, against one real node (TLS, 3 organisations): options
numbered from 1 and never confused with numeric option texts, NFC input, a confirmation before
casting (``--yes`` skips it), receipts never overwritten, a wallet file with a trailing newline,
and a receipt that shows the choice by its label."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import Cli, serve

from mvote.cli._common import Failure
from mvote.cli.voter import choice_indexes
from mvote.verifier import _cli as verify_cli


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    base = tmp_path_factory.mktemp("voter")
    for material, server in serve(base / "network"):
        yield Cli(material, server.address, base)


def _refused_choice(options: tuple[str, ...], given: str) -> Failure:
    with pytest.raises(Failure) as refused:
        choice_indexes(options, [given])
    return refused.value


def test_choices_by_text_or_number_from_1() -> None:
    options = ("Gyeongju", "Jeju", "Sokcho")
    assert choice_indexes(options, ["jeju", "1", "#3"]) == [1, 0, 2]
    assert "1..3" in _refused_choice(options, "0").message
    assert "1..3" in _refused_choice(options, "4").message
    assert "no option 'Busan'" in _refused_choice(options, "Busan").message


def test_a_number_is_never_a_position_when_an_option_text_is_a_number() -> None:
    options = ("10", "2", "none")
    # "2" is the option whose text is 2 (the second option), not the second position ... and
    # "10" is the first option, never a tenth position.
    assert choice_indexes(options, ["2"]) == [1]
    assert choice_indexes(options, ["10"]) == [0]
    # A number no text matches is refused, naming the explicit form.
    refused = _refused_choice(options, "3")
    assert refused.message == "--choice: no option '3'"
    assert "#3" in refused.hint
    assert choice_indexes(options, ["#3"]) == [2]


def test_input_is_nfc_normalised() -> None:
    options = ("도서관", "공원")  # NFC, as the ledger holds every text
    typed_on_a_mac = unicodedata.normalize("NFD", "도서관")
    assert typed_on_a_mac != options[0]
    assert choice_indexes(options, [typed_on_a_mac]) == [0]


def _question(cli: Cli, tmp_path: Path, qid: str, *options: str) -> list[Path]:
    wallets = [tmp_path / f"{qid}-{i}.json" for i in range(4)]
    keys = [str(cli.json("wallet", "create", w, "--kdf", "min")["public_key"]) for w in wallets]
    cli("roster", "create", qid, "--title", qid)
    for key in keys:
        cli("roster", "add", qid, "--key", key)
    cli("roster", "seal", qid)
    args = [a for o in options for a in ("-o", o)]
    cli("question", "create", "--qid", qid, "--title", f"About {qid}", *args, "--rule", "single",
        "--roster", qid, "--open")  # fmt: skip
    return wallets


def test_confirmation_receipt_and_files(cli: Cli, tmp_path: Path) -> None:
    wallets = _question(cli, tmp_path, "lib", "도서관", "공원", "2")
    receipt = tmp_path / "receipt.json"
    # No answer (not a terminal) and no --yes: nothing is cast, exit 2.
    silent = cli.json("vote", "lib", "--wallet", wallets[0], "-c", "공원", "--receipt", receipt,
                      code=2)  # fmt: skip
    assert silent["error"]["code"] == "NOT_CONFIRMED"
    assert "--yes" in silent["error"]["hint"]
    # Declined at the prompt: nothing is cast, exit 1.
    declined = cli("vote", "lib", "--wallet", wallets[0], "-c", "공원", "--receipt", receipt,
                   code=1, input="no\n")  # fmt: skip
    assert "your choice: 2. 공원" in declined.stderr
    assert not receipt.exists()
    assert cli.json("history", "--wallet", wallets[0])["history"] == []
    # Confirmed at the prompt, typed in NFD: cast, receipt written.
    nfd = unicodedata.normalize("NFD", "공원")
    cast = cli("vote", "lib", "--wallet", wallets[0], "-c", nfd, "--receipt", receipt,
               input="yes\n")  # fmt: skip
    assert "ballot cast on lib: 2. 공원" in cast.stdout
    assert receipt.exists()
    first = receipt.read_bytes()
    # A receipt is never overwritten: refused before anything is sent (exit 2) ...
    again = cli.json("vote", "lib", "--wallet", wallets[1], "-c", "#3", "--receipt", receipt,
                     "--yes", code=2)  # fmt: skip
    assert again["error"]["code"] == "FILE_EXISTS"
    assert receipt.read_bytes() == first
    assert cli.json("history", "--wallet", wallets[1])["history"] == []
    # ... unless --force. A wallet with a trailing newline (saved by an editor) is read.
    edited = tmp_path / "edited.json"
    edited.write_bytes(wallets[1].read_bytes() + b"\n")
    forced = cli.json("vote", "lib", "--wallet", edited, "-c", "2", "--receipt", receipt,
                      "--yes", "--force")  # fmt: skip
    assert forced["labels"] == ["2"] and forced["choices"] == [2]
    # The receipt shows the choice by its label, verified from the genesis hash; a trailing
    # newline in the receipt file is accepted.
    receipt.write_bytes(receipt.read_bytes() + b"\n")
    verified = cli.json("vote", "lib", "--wallet", wallets[2], "-c", "도서관", "--yes",
                        "--receipt", tmp_path / "r2.json")  # fmt: skip
    anchor = verified["genesis_hash"]
    assert verify_cli.main(["receipt", str(receipt), "--genesis-hash", anchor]) == 0
    assert verify_cli.main(["receipt", str(tmp_path / "r2.json"), "--genesis-hash", anchor]) == 0


def test_the_receipt_shows_labels(
    cli: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wallets = _question(cli, tmp_path, "park", "Benches", "Trees")
    receipt = tmp_path / "r.json"
    done = cli.json("vote", "park", "--wallet", wallets[0], "-c", "Trees", "--yes",
                    "--receipt", receipt)  # fmt: skip
    capsys.readouterr()
    assert verify_cli.main(["receipt", str(receipt), "--genesis-hash", done["genesis_hash"]]) == 0
    out = capsys.readouterr().out
    assert "question park: About park" in out
    assert "the ballot records: 2. Trees" in out
    assert "question_binding" in out
