"""Per-transaction validation of large blocks in a worker process.

The node is one Python process, so all its work shares one interpreter lock: while the ordering
thread validates a block (signature checks, unpacking, policy evaluation: most of a ballot's
commit cost) no endorsement runs, and the other way round. Fabric's committer validates the
transactions of a block in parallel goroutines and then applies MVCC in block order; this module
does the first half in a worker process with the verifier's own :func:`validate_transaction`,
and the committer does the second half (:func:`finish_block_validation`) as before. The verdicts
are the same objects the in-process call returns: same code, same inputs.

What ``validate_transaction`` reads besides the envelope: the channel configuration (from the
genesis block, loaded once by the worker), the ``_lifecycle`` namespace (chaincode definitions
and their endorsement policies; the committer sends it as committed before the block) and whether
a tx id is already on the ledger (the committer looks up the block's tx ids and sends the
answers). Should the worker need anything else, it answers None and the committer validates the
block itself; so it does when the worker is not running yet, has failed, or the block is small.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterable, Sequence
from contextlib import suppress
from typing import IO

from mvote.chaincode._simulation import Version
from mvote.node.frames import python_module, read_frame, write_frame
from mvote.node.logs import log_to_stderr
from mvote.verifier._config import ChannelConfig, channel_config_from_block
from mvote.verifier._mvcc import WorldStateView
from mvote.verifier._validation import BlockContext, TxVerdict, validate_transaction

log = logging.getLogger("mvote.node.parallel")

LIFECYCLE = "_lifecycle"
#: Blocks with fewer transactions are validated in the committer: the round trip would cost more
#: than it frees.
MIN_PARALLEL_TXS = 16

_config: ChannelConfig | None = None


class _Unavailable(Exception):
    """The worker was asked for state it was not sent."""


class _LifecycleState:
    """A WorldStateView holding only the committed ``_lifecycle`` namespace."""

    def __init__(self, values: dict[str, bytes]) -> None:
        self._values = values

    def value(self, namespace: str, key: str) -> bytes | None:
        if namespace != LIFECYCLE:
            raise _Unavailable(namespace)
        return self._values.get(key)

    def version(self, namespace: str, key: str) -> Version | None:
        raise _Unavailable(namespace)

    def hashed_version(self, namespace: str, collection: str, key_hash: bytes) -> Version | None:
        raise _Unavailable(namespace)

    def range(self, namespace: str, start: str, end: str) -> Iterable[tuple[str, Version]]:
        raise _Unavailable(namespace)


def _init(genesis: bytes) -> None:
    global _config
    _config = channel_config_from_block(genesis)


def _ready() -> bool:
    return _config is not None


def _validate(
    lifecycle: dict[str, bytes], committed: dict[str, bool], data: Sequence[bytes]
) -> list[TxVerdict] | None:
    assert _config is not None

    def tx_id_committed(tx_id: str) -> bool:
        if tx_id not in committed:
            raise _Unavailable(tx_id)
        return committed[tx_id]

    state: WorldStateView = _LifecycleState(lifecycle)
    context = BlockContext(_config, state, tx_id_committed)
    try:
        return [validate_transaction(context, i, raw) for i, raw in enumerate(data)]
    except _Unavailable:
        return None


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """The worker's loop: the genesis block, then (lifecycle, committed, data) requests, each
    answered with verdicts or None, until the committer closes the pipe."""
    _init(read_frame(requests))
    write_frame(replies, "ready")
    while True:
        try:
            lifecycle, committed, data = read_frame(requests)
        except EOFError:
            return
        write_frame(replies, _validate(lifecycle, committed, data))


class ValidationWorker:
    """One worker process (``python -m mvote.node.parallel``), started on the first large block
    and talked to over its stdin/stdout by the committer alone; :meth:`close` ends it."""

    def __init__(self, genesis: bytes) -> None:
        self._genesis = genesis
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._failed = False

    def verdicts(
        self, lifecycle: dict[str, bytes], committed: dict[str, bool], data: Sequence[bytes]
    ) -> list[TxVerdict] | None:
        """The verdicts of ``data``'s transactions, or None: validate them in-process."""
        if self._failed or len(data) < MIN_PARALLEL_TXS:
            return None
        try:
            if self._process is None:
                self._start()
                return None
            if not self._ready:
                if not select.select([self._pipe_out], [], [], 0)[0]:
                    return None  # still starting
                if read_frame(self._pipe_out) != "ready":
                    raise EOFError("validation worker: no ready frame")
                self._ready = True
            write_frame(self._pipe_in, (lifecycle, committed, list(data)))
            verdicts: list[TxVerdict] | None = read_frame(self._pipe_out)
            return verdicts
        except (EOFError, OSError, ValueError) as exc:
            # The worker went away (or never started): what happened is in its own log lines.
            log.error(
                "validation worker failed (%s: %s); validating in the committer from now on",
                type(exc).__name__,
                exc,
            )
        except Exception:
            log.exception("validation worker failed; validating in the committer from now on")
        self._failed = True
        self.close()
        return None

    @property
    def _pipe_in(self) -> IO[bytes]:
        assert self._process is not None and self._process.stdin is not None
        return self._process.stdin

    @property
    def _pipe_out(self) -> IO[bytes]:
        assert self._process is not None and self._process.stdout is not None
        return self._process.stdout

    def _start(self) -> None:
        argv, env = python_module("mvote.node.parallel")
        argv.append(logging.getLevelName(logging.getLogger("mvote").getEffectiveLevel()))
        self._process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        write_frame(self._pipe_in, self._genesis)

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            assert process.stdin is not None
            process.stdin.close()
            process.wait(timeout=10)
        except Exception:
            process.kill()
            process.wait()
        finally:
            if process.stdout is not None:
                process.stdout.close()


def main(level: str) -> int:
    """The worker process: its log lines are the node's JSON lines (its stderr is the node's);
    any failure is one of them, never a raw traceback. The node ends it by closing its stdin, so
    it ignores SIGINT (a Ctrl-C reaches the whole process group)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Replies go to the original stdout; anything else printed goes to stderr.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    log_to_stderr(level)
    try:
        serve(sys.stdin.buffer, replies)
    except BrokenPipeError:
        log.error("validation worker: the node closed its pipe; exiting")
        # Closing flushes what the node never read: nothing more to report.
        with suppress(OSError):
            replies.close()
        return 1
    except Exception:
        log.exception("validation worker failed; the node validates in its committer")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "warning"))
