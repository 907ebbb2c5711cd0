"""Gateway processes: the node's gRPC services served from several processes.

Why: a Python process runs Python code on one core at a time, and most of a ballot's cost at the
node is what a Fabric peer's gateway does for it: gRPC and TLS, checking the proposal, running the
contract for each endorsing organisation and signing, checking the signed transaction. So
``mvote node start`` runs ``listen.gateway_processes`` gateway processes (default 2). They share
the gRPC port (SO_REUSEPORT: the kernel spreads connections over them) and each runs a
:class:`~mvote.node.peer.Peer` over its own follower of the node's ledger (ledger/store.py), as
each Fabric peer keeps its own state database. The node process keeps ordering, validation and
commit, the only writer of the chain.

Between the node process and each gateway process there are two pipes of frames (frames.py):

- gateway to node: ``("serving", port)`` once listening; ``("order", request, tx id, envelope)``
  for a transaction the gateway process checked as Submit and Broadcast check it;
- node to gateway: ``("ordered", request, refusal or None)`` (a tx id already pending or
  committed, or a node that stopped ordering, is refused); ``("committed", commit)`` after each
  commit, with the updates the node derived from the block and its place in the block file (a
  gateway process applies them rather than parse every transaction again); ``("stop",)``.

A shared 8-byte file holds the committed height. The node writes it after each commit and before
it sends ``committed``; a gateway process reads it before every read that must see the latest commit
(Evaluate, Endorse, CommitStatus, Deliver) and follows the ledger up to it first. So a client that
saw its transaction commit through one gateway process reads it through any other.

A gateway process exits at once when its pipe from the node closes without ``stop`` (the node
died): it never serves a chain that no one commits to.
"""

from __future__ import annotations

import itertools
import logging
import mmap
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from mvote.chaincode._errors import MvoteError
from mvote.node.errors import ALL_ERROR_TYPES, NotRunning
from mvote.node.frames import FrameWriter, frame_bytes, python_module, read_frame
from mvote.node.ledger.errors import LedgerCorrupt
from mvote.node.ledger.store import BLOCK_FILE, AppliedBlock, Ledger
from mvote.node.ledger.updates import BlockChanges
from mvote.node.logs import log_to_stderr
from mvote.node.material import NetworkMaterial, load_network
from mvote.node.metrics import process_gone
from mvote.node.peer import Peer
from mvote.node.runtime import Node
from mvote.node.services.server import NodeServer, TlsFiles, tls_files
from mvote.verifier._transaction import ParsedTransaction

log = logging.getLogger("mvote.node.serving")

FOLLOWERS_DIR = "followers"
HEIGHT_FILE = "height"
#: How long a gateway process waits for the node to take a transaction into its queue.
ORDER_TIMEOUT_SECONDS = 30.0
#: How long the node waits for a gateway process to start serving.
START_TIMEOUT_SECONDS = 60.0


class SharedHeight:
    """The committed height in an 8-byte file mapped into every process of the node. One writer
    (the node's committer), which only ever raises it."""

    def __init__(self, path: Path, *, writable: bool) -> None:
        if writable:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes(8))
        fd = os.open(path, os.O_RDWR if writable else os.O_RDONLY)
        try:
            access = mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ
            self._map = mmap.mmap(fd, 8, access=access)
        finally:
            os.close(fd)

    def get(self) -> int:
        return int.from_bytes(self._map[:8], "little")

    def set(self, height: int) -> None:
        self._map[:8] = height.to_bytes(8, "little")

    def close(self) -> None:
        self._map.close()


@dataclass(frozen=True)
class Setup:
    """What a gateway process is told when it starts (the first frame on its stdin)."""

    directory: Path
    index: int
    port: int
    tls: bool
    height: int
    log_level: str
    grace: float


# -- the gateway process --------------------------------------------------------------------------


class NodeLink:
    """A gateway process's end of its pipes to the node: requests out through a
    :class:`~mvote.node.frames.FrameWriter` (no caller ever blocks on the pipe), answers
    dispatched by :meth:`serve` (the reader thread, which never waits on a writer)."""

    def __init__(self, incoming: IO[bytes], outgoing: IO[bytes]) -> None:
        self._in = incoming
        self._writer = FrameWriter(outgoing, "node-link-writer", self._broken)
        #: Guards ``_waiting`` and ``_closed``; never held while writing or reading a pipe.
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._waiting: dict[int, Future[Any]] = {}
        self._closed = False

    def send(self, frame: object) -> None:
        self._writer.put(frame_bytes(frame))

    def close(self, timeout: float) -> None:
        """Write what is queued and close the pipe to the node (up to ``timeout`` seconds)."""
        self._writer.close(timeout)

    def order(self, tx_id: str, raw: bytes) -> None:
        """Have the node order ``raw``; raises the node's refusal, or :class:`NotRunning` if the
        node stopped, went away or did not answer in time."""
        answer: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise NotRunning("the node is not running", field="node")
            request = next(self._ids)
            self._waiting[request] = answer
        if not self._writer.put(frame_bytes(("order", request, tx_id, raw))):
            self._refuse_waiting("the node process went away")
        try:
            refusal = answer.result(ORDER_TIMEOUT_SECONDS)
        except TimeoutError:
            with self._lock:
                self._waiting.pop(request, None)
            raise NotRunning(
                f"the node did not take transaction {tx_id} within {ORDER_TIMEOUT_SECONDS:.0f} s",
                field="node",
            ) from None
        if refusal is not None:
            code, message, field = refusal
            raise ALL_ERROR_TYPES.get(code, MvoteError)(message, field=field)

    def serve(
        self,
        on_commit: Callable[[AppliedBlock], None],
        on_stop: Callable[[], None],
        on_gone: Callable[[], None] = lambda: os._exit(3),
    ) -> None:
        """Read the node's frames until ``stop``. If the node goes away instead, every order
        waiting is refused (:class:`NotRunning`) and ``on_gone`` is called (by default the
        process exits: it never serves a chain no one commits to)."""
        while True:
            try:
                frame = read_frame(self._in)
            except EOFError:
                log.error("the node process went away; this gateway process exits")
                self._refuse_waiting("the node process went away")
                on_gone()
                return
            kind = frame[0]
            if kind == "ordered":
                _, request, refusal = frame
                with self._lock:
                    answer = self._waiting.pop(request, None)
                if answer is not None:
                    answer.set_result(refusal)
            elif kind == "committed":
                on_commit(frame[1])
            elif kind == "stop":
                self._refuse_waiting("the node is stopping")
                on_stop()
                return

    def _broken(self, exc: BaseException) -> None:
        log.error("the pipe to the node broke (%s: %s)", type(exc).__name__, exc)
        self._refuse_waiting("the node process went away")

    def _refuse_waiting(self, why: str) -> None:
        """Take no more orders, and answer every order waiting with NOT_RUNNING ``why``."""
        with self._lock:
            self._closed = True
            waiting, self._waiting = self._waiting, {}
        for answer in waiting.values():
            answer.set_result(("NOT_RUNNING", why, "node"))


class GatewayPeer(Peer):
    """A peer over a follower of the node's ledger, ordering through the node."""

    def __init__(
        self,
        material: NetworkMaterial,
        ledger: Ledger,
        height: SharedHeight,
        link: NodeLink,
    ) -> None:
        super().__init__(material, ledger)
        self._height = height
        self._link = link

    def start(self) -> None:
        self._load_channel()
        self.follow(self._height.get())
        self._running = True
        self._endorsing = self._endorsers_for_policy()

    def stop(self) -> None:
        self._halt()
        self.ledger.close()

    def follow(self, height: int) -> None:
        """Apply the node's commits up to ``height`` and wake whoever waits for them."""
        self._woken(self.ledger.follow(height))

    def follow_commit(self, commit: AppliedBlock) -> None:
        """Apply one commit the node sent and wake whoever waits for it."""
        self._woken(self.ledger.follow_commit(commit))

    def _woken(self, applied: list[BlockChanges]) -> None:
        if applied:
            with self._lock:
                self._committed(tx.tx_id for updates in applied for tx in updates.txs)

    def _fresh(self) -> None:
        height = self._height.get()
        if height > self.ledger.height:
            self.follow(height)

    def order(self, tx_id: str, raw: bytes | ParsedTransaction) -> None:
        # The node process gets the bytes (it parses them once, when it validates the block).
        self._link.order(tx_id, raw.raw if isinstance(raw, ParsedTransaction) else raw)


def open_follower(ledger_dir: Path, index: int, height: int) -> Ledger:
    """Gateway process ``index``'s follower of the ledger in ``ledger_dir``, at ``height``; one
    that no longer matches the block file (a crash of the machine, not of the node, can leave
    one ahead of it) is removed and built again from the blocks."""
    directory = ledger_dir / FOLLOWERS_DIR / str(index)
    try:
        return Ledger.open_follower(directory, ledger_dir / BLOCK_FILE, height)
    except LedgerCorrupt as exc:
        log.warning("follower %s does not match the ledger (%s); rebuilding it", directory, exc)
        shutil.rmtree(directory)
        return Ledger.open_follower(directory, ledger_dir / BLOCK_FILE, height)


#: How long a gateway process whose node went away lets its calls in flight end (refused).
GONE_GRACE_SECONDS = 1.0


def serve_gateway(setup: Setup, link: NodeLink) -> None:
    """A gateway process's life: watch the node, follow the ledger, serve gRPC until told to
    stop. Precondition: nothing read from ``link`` yet (this starts its reader)."""
    stop = threading.Event()
    serving: list[GatewayPeer | NodeServer] = []  # [peer, server] as they come up

    def on_commit(commit: AppliedBlock) -> None:
        if serving:  # before the peer exists it follows the shared height when it starts
            peer = serving[0]
            assert isinstance(peer, GatewayPeer)
            peer.follow_commit(commit)

    def on_gone() -> None:
        if len(serving) == 2:
            server = serving[1]
            assert isinstance(server, NodeServer)
            server.stop(grace=GONE_GRACE_SECONDS)
        os._exit(3)

    # The death watch starts first: a node that dies while this process rebuilds its follower
    # must not leave it to open the port afterwards.
    reader = threading.Thread(
        target=link.serve, args=(on_commit, stop.set, on_gone), name="node-link", daemon=True
    )
    reader.start()
    material = load_network(setup.directory)
    ledger_dir = setup.directory / material.config.ledger_dir
    height = SharedHeight(ledger_dir / FOLLOWERS_DIR / HEIGHT_FILE, writable=False)
    peer = GatewayPeer(material, open_follower(ledger_dir, setup.index, setup.height), height, link)
    serving.append(peer)
    peer.start()
    if not stop.is_set():
        server = NodeServer(peer, port=setup.port, tls=setup.tls, reuse_port=True).start()
        serving.append(server)
        link.send(("serving", server.port))
        log.info("gateway process %d serving on %s", setup.index, server.address)
        stop.wait()
        server.stop(grace=setup.grace)
    peer.stop()
    height.close()


def main() -> None:
    # The node stops it through its pipes; a Ctrl-C reaches the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Frames go to the original stdout; anything else printed goes to stderr, the node's log.
    outgoing = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    incoming = sys.stdin.buffer
    try:
        setup: Setup = read_frame(incoming)
    except EOFError:
        return  # the node gave up on starting us
    log_to_stderr(setup.log_level)
    link = NodeLink(incoming, outgoing)
    try:
        serve_gateway(setup, link)
    except Exception as exc:
        log.exception("gateway process %d failed", setup.index)
        link.send(("failed", f"{type(exc).__name__}: {exc}"))
        link.close(5)
        sys.exit(2)
    link.close(5)


# -- the node's side ------------------------------------------------------------------------------


class _Gateway:
    """The node's handle on one gateway process. Frames to it go through a
    :class:`~mvote.node.frames.FrameWriter`: neither the committer nor the reader of its orders
    ever blocks on its pipe."""

    def __init__(self, node: Node, index: int, on_exit: Callable[[_Gateway], None]) -> None:
        self.node = node
        self.index = index
        # Started before it is told anything, so that its imports overlap with the others'.
        argv, env = python_module("mvote.node.serving")
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._writer = FrameWriter(self.process.stdin, f"gateway-{index}-writer")
        self._in = self.process.stdout
        #: Guards ``_begun``: until it was sent its Setup, its first frame must be nothing else.
        self._begin_lock = threading.Lock()
        self._begun = False
        self._on_exit = on_exit
        self.started: Future[int] = Future()
        self._reader = threading.Thread(target=self._serve, name=f"gateway-{index}", daemon=True)

    def begin(self, setup: Setup) -> int:
        """Tell it what to serve; the port it serves on, once it does."""
        with self._begin_lock:
            self._writer.put(frame_bytes(setup))
            self._begun = True
        self._reader.start()
        return self.started.result(START_TIMEOUT_SECONDS)

    def send(self, frame: object) -> None:
        """Send ``frame`` if it has begun; a process that is gone cannot read it (_serve
        reports its exit)."""
        self.send_bytes(frame_bytes(frame))

    def send_bytes(self, data: bytes) -> None:
        """Send a frame made by :func:`frame_bytes`, as :meth:`send` does; never blocks."""
        with self._begin_lock:
            if self._begun:
                self._writer.put(data)

    def _serve(self) -> None:
        while True:
            try:
                frame = read_frame(self._in)
            except EOFError:
                break
            kind = frame[0]
            if kind == "order":
                _, request, tx_id, raw = frame
                refusal = None
                try:
                    self.node.order(tx_id, raw)
                except MvoteError as exc:
                    refusal = (exc.code, exc.message, exc.field)
                self.send(("ordered", request, refusal))
            elif kind == "serving":
                self.started.set_result(frame[1])
            elif kind == "failed" and not self.started.done():
                self.started.set_exception(OSError(frame[1]))
        self.process.wait()
        process_gone(self.process.pid)
        if not self.started.done():
            self.started.set_exception(
                OSError(f"gateway process exited with code {self.process.returncode}")
            )
        self._on_exit(self)

    def close(self, timeout: float) -> None:
        """End the pipe to it (after what is queued: one that never began reads EOF and exits at
        once), wait up to ``timeout`` seconds for it to exit, then kill it."""
        self._writer.close(0)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("gateway process %d did not stop; killing it", self.index)
            self.process.kill()
            self.process.wait()
        self._writer.close(timeout)
        if self._reader.is_alive():
            self._reader.join(timeout)
        self._in.close()


class GatewayProcesses:
    """``count`` gateway processes serving ``node`` on ``port`` (0 picks a free one); the same
    face as :class:`~mvote.node.services.server.NodeServer` to whoever runs the node."""

    def __init__(
        self,
        node: Node,
        directory: Path,
        *,
        count: int,
        port: int | None = None,
        tls: bool = True,
        log_level: str = "info",
        grace: float = 5.0,
    ) -> None:
        if count < 1:
            raise ValueError(f"count: expected at least 1 gateway process, got {count}")
        self.node = node
        self.directory = directory
        self.count = count
        self.tls = tls
        self._requested_port = node.config.listen.grpc.port if port is None else port
        self._log_level = log_level
        self._grace = grace
        self._gateways: list[_Gateway] = []
        self._height: SharedHeight | None = None
        self._stopping = False
        #: Set when a gateway process exits while the node still runs: the node should stop.
        self.failed = threading.Event()
        self.port = 0

    @property
    def address(self) -> str:
        return f"{self.node.config.listen.grpc.host}:{self.port}"

    @property
    def tls_files(self) -> TlsFiles:
        return tls_files(self.node)

    def start(self) -> GatewayProcesses:
        ledger_dir = self.node.ledger.directory
        self._height = SharedHeight(ledger_dir / FOLLOWERS_DIR / HEIGHT_FILE, writable=True)
        self._height.set(self.node.ledger.height)
        self.node.add_commit_listener(self._committed)
        if self._requested_port:
            _check_port_free(self.node.config.listen.grpc.host, self._requested_port)
        self._gateways = [_Gateway(self.node, i, self._exited) for i in range(self.count)]
        try:
            # The first one binds (and with port 0 picks) the port the others then share.
            self.port = self._gateways[0].begin(self._setup(0, self._requested_port))
            for gateway in self._gateways[1:]:
                gateway.begin(self._setup(gateway.index, self.port))
        except BaseException:
            self.stop(grace=0)
            raise
        log.info("%d gateway processes serving on %s", self.count, self.address)
        return self

    def _setup(self, index: int, port: int) -> Setup:
        return Setup(
            self.directory,
            index,
            port,
            self.tls,
            self.node.ledger.height,
            self._log_level,
            self._grace,
        )

    def _committed(self, commit: AppliedBlock) -> None:
        assert self._height is not None
        self._height.set(commit.updates.number + 1)
        frame = frame_bytes(("committed", commit))
        for gateway in self._gateways:
            gateway.send_bytes(frame)

    def _exited(self, gateway: _Gateway) -> None:
        if not self._stopping:
            log.error(
                "gateway process %d exited with code %s",
                gateway.index,
                gateway.process.returncode,
            )
            self.failed.set()

    def stop(self, grace: float = 5.0) -> None:
        """Have every gateway process stop taking calls, end its streams and finish the calls in
        flight (up to ``grace`` seconds); the node itself is stopped by its owner afterwards."""
        self._stopping = True
        for gateway in self._gateways:
            gateway.send(("stop",))
        for gateway in self._gateways:
            gateway.close(grace + 10)
        self._gateways = []
        if self._height is not None:
            self._height.close()
            self._height = None

    def __enter__(self) -> GatewayProcesses:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _check_port_free(host: str, port: int) -> None:
    """Refuse a port another process holds: the gateway processes bind it with SO_REUSEPORT,
    which would otherwise let them share it with a stale node."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As gRPC binds: connections of an earlier run in TIME_WAIT do not hold the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(f"cannot bind {host}:{port}: {exc.strerror}") from exc


if __name__ == "__main__":
    main()
