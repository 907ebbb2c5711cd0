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

from mvote.verifier import cli
from mvote.verifier.chainfile import decode_chain, encode_chain, read_chain, write_chain
from mvote.verifier.errors import MalformedProto


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
    with pytest.raises(SystemExit) as usage:
        cli.main(["audit", "--chain", str(garbage), "--genesis-hash", "not-hex"])
    assert usage.value.code == 2
    with pytest.raises(SystemExit) as missing_anchor:
        cli.main(["audit", "--chain", str(garbage)])
    assert missing_anchor.value.code == 2


def test_reads_a_folder_of_block_files(golden_blocks: list[bytes]) -> None:
    folder = Path(__file__).resolve().parents[3].parent / "shared" / "fabric-golden"
    assert read_chain(folder) == golden_blocks


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
            "mvote.verifier.cli",
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
    assert result.stdout.strip().endswith("VERIFIED")
