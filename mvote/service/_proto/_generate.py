"""Regenerate the committed ``mvote.v1`` message modules from the proto file.

    .venv/bin/python -m mvote.service._proto._generate           # rewrite voting_pb2.py(i)
    .venv/bin/python -m mvote.service._proto._generate --check   # exit 1 if they are stale

Needs grpcio-tools (a dev dependency). protoc runs with the proto folder as its include root, so
the descriptor names the file ``mvote/v1/voting.proto`` (what reflection shows); the two outputs
are then moved next to this module (they import nothing of mvote).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent / "proto"
PROTO = PROTO_ROOT / "mvote" / "v1" / "voting.proto"
OUTPUTS = ("voting_pb2.py", "voting_pb2.pyi")


def generate() -> dict[str, bytes]:
    """File name -> bytes of each output protoc writes for :data:`PROTO`."""
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as out:
        args = [
            "protoc",
            f"-I{PROTO_ROOT}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            str(PROTO.relative_to(PROTO_ROOT)),
        ]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {PROTO}")
        produced = Path(out) / "mvote" / "v1"
        return {name: (produced / name).read_bytes() for name in OUTPUTS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the outputs are stale")
    args = parser.parse_args(argv)
    stale = [n for n, data in generate().items() if (HERE / n).read_bytes() != data]
    if args.check:
        if stale:
            print(f"stale: {', '.join(stale)}; run python -m mvote.service._proto._generate")
        return 1 if stale else 0
    for name, data in generate().items():
        (HERE / name).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
