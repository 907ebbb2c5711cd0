"""Writing files that hold secrets (wallets, trustee shares, the network's private keys).

The one recipe: the file is created by ``open(O_CREAT | O_EXCL | O_NOFOLLOW)`` with its final
mode, so it is never readable by others, not even between its creation and a ``chmod`` (the
umask can only take bits away), and a file or a symbolic link already at the path, planted or
left by a crash, is neither followed nor reused. Used by the client and, below it in the layers,
by the node (mvote/node/material.py).
"""

from __future__ import annotations

import os
from pathlib import Path

#: Owner read and write only: for keys and sealed secrets.
PRIVATE = 0o600


def create_file(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` holding ``data`` with ``mode`` from the first instant.

    Precondition: ``path`` does not exist (FileExistsError otherwise, also for a symbolic link,
    which is never followed). On a failed write the partial file is removed.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by its owner only, replacing ``path`` atomically (through
    ``path`` + ``.tmp``: whatever is there, a stale file or a link, is removed, never followed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        create_file(tmp, data, PRIVATE)
    except FileExistsError:
        # Removes the entry itself (a link's target is untouched); if something is put there
        # again before the next create, that one fails: nothing is ever written through it.
        tmp.unlink()
        create_file(tmp, data, PRIVATE)
    tmp.replace(path)
