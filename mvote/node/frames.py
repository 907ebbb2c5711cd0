"""Length-prefixed pickle frames between the node process and its own child processes.

Only for pipes between processes of one node, started by it from its own code: pickle is not a
format for data from anywhere else.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import struct
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("mvote.node.frames")

_LENGTH = struct.Struct(">Q")


def frame_bytes(obj: object) -> bytes:
    """The frame of ``obj``: made once, it can be written to several pipes."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


def write_frame(stream: IO[bytes], obj: object) -> None:
    stream.write(frame_bytes(obj))
    stream.flush()


class FrameWriter:
    """Frames written to ``stream`` in order by a thread of their own.

    Why: a pipe holds 64 KiB; a writer blocked on a full pipe must never hold a lock that the
    reader of the other direction needs, or the two processes wait on each other for ever (a
    gateway process's reader waiting on a send lock held by a gRPC thread blocked writing a large
    ``order`` into a full pipe, while the node's committer held its send lock writing a large
    ``committed``). So no one but this thread writes, and :meth:`put` never blocks.

    When a write fails (the other process is gone) ``on_broken`` is called once with the error,
    and every later frame is dropped.
    """

    def __init__(
        self,
        stream: IO[bytes],
        name: str,
        on_broken: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._stream = stream
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._on_broken = on_broken
        self._lock = threading.Lock()
        self._open = True
        self.broken = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, data: bytes) -> bool:
        """Queue ``data`` (made by :func:`frame_bytes`); False if it will never be written
        (closed, or the pipe broke)."""
        with self._lock:
            if not self._open or self.broken:
                return False
            self._queue.put(data)
            return True

    def close(self, timeout: float | None = None) -> None:
        """Write what is queued, then close the stream; wait up to ``timeout`` seconds for that
        (a reader that never reads can hold it up: kill it, and the write fails)."""
        with self._lock:
            if self._open:
                self._open = False
                self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self.broken:
                continue
            try:
                self._stream.write(data)
                self._stream.flush()
            except (OSError, ValueError) as exc:
                with self._lock:
                    self.broken = True
                if self._on_broken is not None:
                    self._on_broken(exc)
        # Closing flushes what a dead reader never read: nothing to report.
        with suppress(OSError, ValueError):
            self._stream.close()


def read_frame(stream: IO[bytes]) -> Any:
    """The next object; EOFError when the other end closed the pipe."""
    head = stream.read(_LENGTH.size)
    if len(head) != _LENGTH.size:
        raise EOFError("pipe closed")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) != size:
        raise EOFError("pipe closed mid-frame")
    return pickle.loads(data)


def python_module(module: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run ``python -m module`` from this same copy of mvote,
    however this process found it."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return [sys.executable, "-m", module], env
