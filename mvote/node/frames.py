"""Length-prefixed pickle frames between the node process and its own child processes.

Only for pipes between processes of one node, started by it from its own code: pickle is not a
format for data from anywhere else.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
from pathlib import Path
from typing import IO, Any

_LENGTH = struct.Struct(">Q")


def frame_bytes(obj: object) -> bytes:
    """The frame of ``obj``: made once, it can be written to several pipes."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


def write_frame(stream: IO[bytes], obj: object) -> None:
    stream.write(frame_bytes(obj))
    stream.flush()


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
