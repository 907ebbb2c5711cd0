"""A voter or an auditor installs the verifier without anything of the node.

Installs this project with its base dependencies only into a fresh virtual environment, checks
that no node dependency came with it, and runs ``mvote-verify`` there on a saved chain (the
golden Fabric chain) and on a receipt from a chain the embedded node made.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest
from testkit import GOLDEN

REPO = Path(__file__).resolve().parents[2]
NODE_ONLY = ("plyvel", "fastapi", "uvicorn", "typer", "grpcio-status", "grpcio-health-checking")


@pytest.fixture(scope="module")
def base_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = tmp_path_factory.mktemp("base-install") / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return env


def test_base_install_has_no_node_dependencies(base_env: Path) -> None:
    listed = subprocess.run(
        [str(base_env / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.lower()
    installed = {line.split("==")[0] for line in listed.splitlines()}
    assert "mvote" in installed
    assert not installed & set(NODE_ONLY), installed & set(NODE_ONLY)


def test_mvote_verify_audits_a_saved_chain_on_the_base_install(base_env: Path) -> None:
    import json

    anchor = json.loads((GOLDEN / "blocks.json").read_text())["blocks"][0]["header_hash"]
    result = subprocess.run(
        [
            str(base_env / "bin" / "mvote-verify"),
            "audit",
            "--chain",
            str(GOLDEN),
            "--genesis-hash",
            anchor,
            "--no-replay",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("VERIFIED: signatures, policies")


def test_mvote_verify_checks_a_receipt_on_the_base_install(base_env: Path, tmp_path: Path) -> None:
    # The node runs here, in the development environment; only its outputs cross over.
    maker = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("make_receipt.py")), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert maker.returncode == 0, maker.stderr
    verify = base_env / "bin" / "mvote-verify"
    receipt, chain = tmp_path / "receipt.json", tmp_path / "chain.bin"
    offline = subprocess.run(
        [str(verify), "receipt", str(receipt), "--profile", str(tmp_path / "profile.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert offline.returncode == 0, offline.stdout + offline.stderr
    full = subprocess.run(
        [
            str(verify),
            "receipt",
            str(receipt),
            "--chain",
            str(chain),
            "--profile",
            str(tmp_path / "profile.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert full.returncode == 0, full.stdout + full.stderr
    audit = subprocess.run(
        [str(verify), "audit", "--chain", str(chain), "--trust-first-block"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
