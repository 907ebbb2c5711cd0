"""``mvote-verify audit``: exit codes, findings named in the report, chain files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fabric_protos.common import common_pb2
from hypothesis import given
from hypothesis import strategies as st
from testkit import GOLDEN

from mvote.verifier import _cli as cli
from mvote.verifier._chainfile import decode_chain, encode_chain, read_chain, write_chain
from mvote.verifier._errors import BlockNumbering, MalformedProto


def _audit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(["audit", *argv])
    return code, capsys.readouterr().out


@pytest.fixture
def golden_file(tmp_path: Path, golden_blocks: list[bytes]) -> Path:
    path = tmp_path / "golden.chain"
    write_chain(path, golden_blocks)
    return path


def test_golden_chain_is_verified(
    capsys: pytest.CaptureFixture[str], golden_file: Path, genesis_hash: bytes
) -> None:
    code, out = _audit(
        capsys,
        "--chain",
        str(golden_file),
        "--genesis-hash",
        genesis_hash.hex(),
        "--no-replay",
        "--json",
    )
    report: dict[str, Any] = json.loads(out)
    assert code == 0 and report["verified"]
    assert report["blocks"] == 16 and report["transactions"] == 36
    assert len(report["invalid_transactions"]) == 8
    assert {t["code"] for t in report["invalid_transactions"]} == {11}


def test_a_tampered_block_fails_naming_block_and_check(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    golden_blocks: list[bytes],
    genesis_hash: bytes,
) -> None:
    blocks = list(golden_blocks)
    block = common_pb2.Block.FromString(blocks[8])
    block.metadata.metadata[2] = b"\x00\x0b\x00\x00"  # claim a valid ballot was a conflict
    blocks[8] = block.SerializeToString()
    path = tmp_path / "tampered.chain"
    write_chain(path, blocks)
    code, out = _audit(
        capsys, "--chain", str(path), "--genesis-hash", genesis_hash.hex(), "--no-replay"
    )
    assert code == 1
    assert "FAILED block 8 tx 1" in out and "validation_code" in out
    assert "NOT VERIFIED" in out


def test_another_anchor_fails(capsys: pytest.CaptureFixture[str], golden_file: Path) -> None:
    code, out = _audit(
        capsys, "--chain", str(golden_file), "--genesis-hash", "00" * 32, "--no-replay"
    )
    assert code == 1 and "genesis_hash" in out


def test_bad_input_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.chain"
    garbage.write_bytes(b"\xff\xff\xff\xff\x0f")
    assert cli.main(["audit", "--chain", str(garbage), "--trust-first-block"]) == 2
    assert cli.main(["audit", "--chain", str(tmp_path / "absent"), "--trust-first-block"]) == 2
    assert cli.main(["audit", "--chain", str(garbage), "--genesis-hash", "not-hex"]) == 2
    assert "--genesis-hash: expected 64 lowercase hex digits" in capsys.readouterr().err
    assert cli.main(["audit", "--chain", str(garbage)]) == 2
    assert "no trust anchor" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        cli.main(
            ["audit", "--chain", str(garbage), "--genesis-hash", "00" * 32, "--trust-first-block"]
        )
    assert usage.value.code == 2


def test_reads_a_folder_of_block_files(golden_blocks: list[bytes]) -> None:
    assert read_chain(GOLDEN) == golden_blocks


@given(st.lists(st.binary(max_size=300), max_size=8))
def test_chain_file_round_trips(blocks: list[bytes]) -> None:
    assert decode_chain(b"".join(encode_chain(blocks))) == blocks


@given(st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=5), st.data())
def test_a_truncated_chain_file_is_refused(blocks: list[bytes], data: st.DataObject) -> None:
    raw = b"".join(encode_chain(blocks))
    cut = data.draw(st.integers(1, len(raw) - 1))
    try:
        decoded = decode_chain(raw[:cut])
    except MalformedProto:
        return
    assert decoded == blocks[: len(decoded)]  # a cut exactly between records


def test_console_script_runs(golden_file: Path, genesis_hash: bytes) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mvote.verifier._cli",
            "audit",
            "--chain",
            str(golden_file),
            "--genesis-hash",
            genesis_hash.hex(),
            "--no-replay",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "VERIFIED: signatures, policies and validation codes; no transaction re-executed "
        "(--no-replay)"
    )


# --- other people's chains (issue 10, section 7) -------------------------------------------------


@pytest.mark.parametrize("name", ["{n}.block", "mvote_{n}.block"])
def test_a_folder_is_read_in_block_number_order_not_name_order(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    golden_blocks: list[bytes],
    genesis_hash: bytes,
    name: str,
) -> None:
    for n, raw in enumerate(golden_blocks):  # 0, 1, 10, 11, ... 2, 3 in name order
        (tmp_path / name.format(n=n)).write_bytes(raw)
    assert read_chain(tmp_path) == golden_blocks
    code, out = _audit(
        capsys, "--chain", str(tmp_path), "--genesis-hash", genesis_hash.hex(), "--no-replay"
    )
    assert code == 0, out


def test_a_folder_with_a_repeated_or_missing_number_is_refused_naming_them(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    golden_blocks: list[bytes],
    genesis_hash: bytes,
) -> None:
    for n, raw in enumerate(golden_blocks):
        (tmp_path / f"{n}.block").write_bytes(raw)
    (tmp_path / "mvote_newest.block").write_bytes(
        golden_blocks[15]
    )  # as `peer channel fetch newest`
    with pytest.raises(BlockNumbering, match=r"block 15 in 15\.block and mvote_newest\.block"):
        read_chain(tmp_path)
    (tmp_path / "mvote_newest.block").unlink()
    for n in (4, 5, 6, 9):
        (tmp_path / f"{n}.block").unlink()
    with pytest.raises(BlockNumbering, match=r"expected blocks 0\.\.15, missing 4\.\.6, 9$"):
        read_chain(tmp_path)
    code = cli.main(["audit", "--chain", str(tmp_path), "--genesis-hash", genesis_hash.hex()])
    assert code == 2 and "missing 4..6, 9" in capsys.readouterr().err
    (tmp_path / "3.block").write_bytes(b"\x0a\xff")
    with pytest.raises(MalformedProto, match=r"3\.block"):
        read_chain(tmp_path)


def _orderers_copy(blocks: list[bytes]) -> list[bytes]:
    """What an ordering node holds: the same blocks without TRANSACTIONS_FILTER and COMMIT_HASH."""
    out = []
    for raw in blocks:
        block = common_pb2.Block.FromString(raw)
        block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER] = b""
        block.metadata.metadata[common_pb2.COMMIT_HASH] = b""
        out.append(block.SerializeToString())
    return out


def test_an_orderers_copy_is_audited_and_named(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    golden_blocks: list[bytes],
    genesis_hash: bytes,
) -> None:
    path = tmp_path / "orderer.chain"
    write_chain(path, _orderers_copy(golden_blocks))
    anchor = ["--genesis-hash", genesis_hash.hex()]
    code, out = _audit(capsys, "--chain", str(path), *anchor, "--no-replay", "--json")
    report = json.loads(out)
    assert code == 0 and report["verified"] and report["orderers_copy"], report["findings"]
    assert len(report["invalid_transactions"]) == 8  # recomputed: the double votes of 10..13
    code, out = _audit(capsys, "--chain", str(path), *anchor, "--no-replay")
    assert code == 0 and "an orderer's copy" in out
    # A chain of both kinds is a finding.
    mixed = list(golden_blocks[:8]) + _orderers_copy(golden_blocks)[8:]
    write_chain(path, mixed)
    code, out = _audit(capsys, "--chain", str(path), *anchor, "--no-replay")
    assert code == 1 and "FAILED block 8: metadata" in out and "an orderer's copy" in out


def test_a_withheld_tail_shows_in_height_and_last_hash(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    golden_blocks: list[bytes],
    golden_index: dict[str, Any],
    genesis_hash: bytes,
) -> None:
    last = golden_index["blocks"][15]["header_hash"]
    path = tmp_path / "short.chain"
    write_chain(path, golden_blocks[:14])  # blocks 14 and 15 withheld: still a valid chain
    anchor = ["--genesis-hash", genesis_hash.hex(), "--no-replay"]
    code, out = _audit(capsys, "--chain", str(path), *anchor)
    assert code == 0
    assert f"height: 14; last block hash: {golden_index['blocks'][13]['header_hash']}" in out
    code, out = _audit(capsys, "--chain", str(path), *anchor, "--expect-height", "16")
    assert code == 1 and "FAILED block 13: height: chain height: expected 16, got 14" in out
    code, out = _audit(capsys, "--chain", str(path), *anchor, "--expect-last-hash", last)
    assert code == 1 and f"last_block_hash: block 13 header hash: expected {last}" in out
    write_chain(path, golden_blocks)
    code, out = _audit(
        capsys, "--chain", str(path), *anchor, "--expect-height", "16", "--expect-last-hash", last
    )
    assert code == 0, out


def test_a_chain_of_another_chaincode_says_nothing_was_re_executed(
    capsys: pytest.CaptureFixture[str], golden_file: Path, genesis_hash: bytes
) -> None:
    code, out = _audit(capsys, "--chain", str(golden_file), "--genesis-hash", genesis_hash.hex())
    verdict = out.rstrip().splitlines()[-1]
    assert code == 0
    assert verdict == (
        "VERIFIED: signatures, policies and validation codes; "
        "0 of 27 chaincode transactions re-executed"
    )
    code, out = _audit(
        capsys, "--chain", str(golden_file), "--genesis-hash", genesis_hash.hex(), "--json"
    )
    assert json.loads(out)["verdict"] == verdict


def test_the_anchor_comes_from_the_flag_a_profile_or_the_environment(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    golden_file: Path,
    genesis_hash: bytes,
) -> None:
    audit = ["--chain", str(golden_file), "--no-replay"]
    monkeypatch.setenv("MVOTE_GENESIS_HASH", genesis_hash.hex().upper())
    assert _audit(capsys, *audit)[0] == 0
    monkeypatch.setenv("MVOTE_GENESIS_HASH", "00" * 32)
    assert _audit(capsys, *audit)[0] == 1  # the environment's anchor, not the chain's
    assert _audit(capsys, *audit, "--genesis-hash", genesis_hash.hex())[0] == 0  # the flag wins
    assert _audit(capsys, *audit, "--trust-first-block")[0] == 0  # so does trusting block 0
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"genesis_hash": genesis_hash.hex()}))
    assert _audit(capsys, *audit, "--profile", str(profile))[0] == 0
    profile.write_text(json.dumps({"channel": "mvote"}))
    code, out = _audit(capsys, *audit, "--profile", str(profile), "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "VERIFY_BAD_ANCHOR"
