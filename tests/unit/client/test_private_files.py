"""Secret files (wallets, trustee shares, network keys) are created owner-only from their first
instant, and a file or symbolic link already at the temporary path is never followed."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mvote.client._files import create_file, write_private
from mvote.client._wallet import FAST_LIMITS, Wallet


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """A umask that takes nothing away: only the creation mode keeps others out."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def modes_seen(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The mode of the file at every chmod and rename of it: what another user could have read
    between its creation and its final place."""
    seen: list[int] = []

    def spy(real: Any) -> Any:
        def call(path: Any, *args: Any, **kwargs: Any) -> Any:
            if os.path.lexists(path) and not os.path.islink(path):
                seen.append(stat.S_IMODE(os.stat(path).st_mode))
            return real(path, *args, **kwargs)

        return call

    monkeypatch.setattr(os, "chmod", spy(os.chmod))
    monkeypatch.setattr(os, "replace", spy(os.replace))
    return seen


def _private(mode: int) -> bool:
    return mode & 0o077 == 0


def test_a_saved_wallet_is_never_readable_by_others(
    tmp_path: Path, umask_zero: None, modes_seen: list[int]
) -> None:
    path = tmp_path / "voter.wallet"
    wallet = Wallet.create("correct horse", limits=FAST_LIMITS)
    wallet.save(path)
    assert modes_seen, "the wallet was not written through a temporary file"
    assert all(_private(m) for m in modes_seen), [oct(m) for m in modes_seen]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Wallet.load(path).public_key == wallet.public_key
    wallet.save(path)  # saving again replaces it, still owner-only
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_create_file_has_its_mode_from_creation(tmp_path: Path, umask_zero: None) -> None:
    path = tmp_path / "key"
    create_file(path, b"secret", 0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        create_file(path, b"again", 0o600)  # never reuses a file that is there
    assert path.read_bytes() == b"secret"


def test_a_symlink_at_the_temporary_path_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"not yours to overwrite")
    target.chmod(0o644)
    path = tmp_path / "voter.wallet"
    (tmp_path / "voter.wallet.tmp").symlink_to(target)
    wallet = Wallet.create("correct horse", limits=FAST_LIMITS)
    wallet.save(path)
    assert target.read_bytes() == b"not yours to overwrite"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Wallet.load(path).public_key == wallet.public_key
    assert not (tmp_path / "voter.wallet.tmp").exists()


def test_a_symlink_at_a_new_files_path_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"untouched")
    (tmp_path / "key").symlink_to(target)
    with pytest.raises(FileExistsError):
        create_file(tmp_path / "key", b"secret", 0o600)
    assert target.read_bytes() == b"untouched"


def test_a_stale_temporary_file_is_replaced_not_reused(tmp_path: Path, umask_zero: None) -> None:
    stale = tmp_path / "share.json.tmp"
    stale.write_bytes(b"left by a crash")
    stale.chmod(0o666)
    write_private(tmp_path / "share.json", b"{}")
    assert (tmp_path / "share.json").read_bytes() == b"{}"
    assert stat.S_IMODE((tmp_path / "share.json").stat().st_mode) == 0o600
