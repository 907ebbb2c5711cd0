"""The voter wallet: sealed under a passphrase, refuses wrong passphrases and altered files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from mvote.chaincode import encoding
from mvote.chaincode._errors import InvalidField, NonCanonical
from mvote.client._wallet import FAST_LIMITS, Limits, Wallet, WrongPassphrase


def test_create_save_load_unlock(tmp_path: Path) -> None:
    wallet = Wallet.create("correct horse", limits=FAST_LIMITS)
    path = tmp_path / "voter.wallet"
    wallet.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Wallet.load(path)
    key = loaded.unlock("correct horse")
    assert bytes(key.verify_key).hex() == wallet.public_key == loaded.public_key
    assert b"correct horse" not in path.read_bytes()


def test_wrong_passphrase_is_refused() -> None:
    wallet = Wallet.create("one", limits=FAST_LIMITS)
    with pytest.raises(WrongPassphrase):
        wallet.unlock("two")
    with pytest.raises(InvalidField):
        wallet.unlock("")


def test_a_swapped_public_key_or_altered_box_is_refused() -> None:
    wallet = Wallet.create("pass", limits=FAST_LIMITS)
    other = Wallet.create("pass", limits=FAST_LIMITS)
    swapped = Wallet(other.public_key, {**wallet.document, "public_key": other.public_key})
    with pytest.raises(WrongPassphrase, match="public_key"):
        swapped.unlock("pass")
    sealed = wallet.document["sealed"]
    flipped = sealed[:-2] + ("00" if sealed[-2:] != "00" else "01")
    with pytest.raises(WrongPassphrase):
        Wallet(wallet.public_key, {**wallet.document, "sealed": flipped}).unlock("pass")


def test_export_reseals_the_same_key_under_a_new_passphrase() -> None:
    wallet = Wallet.create("old", limits=FAST_LIMITS)
    moved = Wallet.from_bytes(wallet.export("old", "new", limits=FAST_LIMITS).to_bytes())
    assert moved.public_key == wallet.public_key
    assert bytes(moved.unlock("new")) == bytes(wallet.unlock("old"))
    with pytest.raises(WrongPassphrase):
        moved.unlock("old")


def test_default_limits_are_libsodium_moderate() -> None:
    assert Limits().memlimit == 256 * 1024 * 1024


def test_malformed_wallet_files_are_refused() -> None:
    wallet = Wallet.create("p", limits=FAST_LIMITS)
    value = json.loads(wallet.to_bytes())
    with pytest.raises(NonCanonical):
        Wallet.from_bytes(json.dumps(value, indent=1).encode())
    value["kdf"]["alg"] = "scrypt"
    with pytest.raises(InvalidField, match=r"kdf\.alg"):
        Wallet.from_bytes(encoding.encode(value))
