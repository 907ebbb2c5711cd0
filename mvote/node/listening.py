"""Where a running node listens: ``listening.json`` in its network folder.

``mvote node start`` writes it once every listener is bound (atomically: a reader sees the whole
file or none) and removes it when it stops, so a node started with ``--port 0`` (a free port) is
found by the other commands without anyone copying the port: they read it when ``--node`` is not
given. A file left by a node that was killed names a process that is gone and is ignored.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from mvote.node.config import Endpoint
from mvote.node.errors import ConfigInvalid

LISTENING_FILE = "listening.json"


@dataclass(frozen=True)
class Listening:
    """The addresses a running node bound, and the process that holds them."""

    grpc: str
    tls: bool
    pid: int
    #: The operations endpoint (metrics, health); None when the node serves none.
    operations: str | None = None

    def save(self, directory: Path) -> Path:
        """Write ``directory/listening.json`` atomically (a temporary file renamed over it)."""
        path = directory / LISTENING_FILE
        fd, temp = tempfile.mkstemp(prefix=".listening-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps(asdict(self), indent=2) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def parse(cls, text: str, path: Path) -> Listening:
        """The file's content; raises ConfigInvalid (naming ``path``) when it is not one."""
        try:
            doc = json.loads(text)
            found = cls(
                grpc=str(Endpoint.parse(doc["grpc"], "grpc")),
                tls=doc["tls"],
                pid=doc["pid"],
                operations=doc.get("operations"),
            )
        except (ValueError, KeyError, TypeError, ConfigInvalid) as exc:
            raise ConfigInvalid(
                f"{path}: expected grpc, tls and pid of a running node, got {exc}",
                field=LISTENING_FILE,
            ) from None
        if not isinstance(found.tls, bool) or not isinstance(found.pid, int):
            raise ConfigInvalid(
                f"{path}: tls must be a boolean, pid a number", field=LISTENING_FILE
            )
        return found


def running_node(directory: Path) -> Listening | None:
    """What the node running on ``directory`` listens on; None when no node runs there (no
    file, or one whose process is gone). Raises ConfigInvalid for a file that does not parse."""
    path = directory / LISTENING_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigInvalid(f"{path}: cannot read it: {exc}", field=LISTENING_FILE) from None
    found = Listening.parse(text, path)
    return found if _alive(found.pid) else None


def forget(directory: Path, pid: int) -> None:
    """Remove ``directory/listening.json`` if process ``pid`` wrote it (a node stopping)."""
    path = directory / LISTENING_FILE
    try:
        if Listening.parse(path.read_text(encoding="utf-8"), path).pid == pid:
            path.unlink()
    except (OSError, ConfigInvalid):
        return


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process holds it
    return True
