"""``mvote network init``, ``mvote node start`` and ``mvote node check``."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from mvote.chaincode._errors import MvoteError
from mvote.node.config import DEFAULT_CHAINCODE, DEFAULT_CHANNEL
from mvote.node.material import init_network

if TYPE_CHECKING:
    from mvote.node.operations import OperationsServer
    from mvote.node.rest import NodeRest
    from mvote.node.runtime import Node
    from mvote.node.services.server import NodeServer
    from mvote.node.serving import GatewayProcesses
    from mvote.service._serve import Running

DEMO_ORGS = ("cityhall", "district", "education")
#: The folder of the node's ledger where its processes write their metrics (metrics.py).
METRICS_DIR = "metrics"

network_app = typer.Typer(help="Create network folders.", no_args_is_help=True)
node_app = typer.Typer(help="Run the embedded node.", no_args_is_help=True)


def _refuse(exc: MvoteError, as_json: bool) -> NoReturn:
    """End a command on a typed error: JSON or ``error: CODE: message``, exit 2."""
    if as_json:
        typer.echo(json.dumps({"ok": False, "error": {"code": exc.code, "message": exc.message}}))
    else:
        typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2) from None


@network_app.command("init")
def network_init(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Directory to create the network in.")
    ],
    orgs: Annotated[
        str, typer.Option("--orgs", help="Comma-separated organisation names (lowercase).")
    ] = ",".join(DEMO_ORGS),
    channel: Annotated[str, typer.Option(help="Channel name.")] = DEFAULT_CHANNEL,
    chaincode: Annotated[str, typer.Option(help="Chaincode name.")] = DEFAULT_CHAINCODE,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Write crypto material, the genesis block and mvote-node.yaml; print the genesis hash."""
    try:
        network = init_network(directory, orgs, channel=channel, chaincode=chaincode)
    except MvoteError as exc:
        _refuse(exc, as_json)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "directory": str(directory),
                    "organizations": [o.msp_id for o in network.peer_orgs],
                    "channel": network.config.channel,
                    "chaincode": network.config.chaincode,
                    "genesis_hash": network.genesis_hash.hex(),
                    "grpc": str(network.config.listen.grpc),
                },
                indent=2,
            )
        )
        return
    typer.echo(f"network: {', '.join(o.msp_id for o in network.peer_orgs)} in {directory}")
    typer.echo(f"channel {network.config.channel}, chaincode {network.config.chaincode}")
    typer.echo(f"genesis block hash {network.genesis_hash.hex()}")
    typer.echo(f"next: mvote node start {directory}   (gRPC on {network.config.listen.grpc})")


def _event(name: str, **fields: object) -> None:
    """A structured event on stdout (what scripts and tests read), one JSON line."""
    print(json.dumps({"event": name, **fields}), flush=True)


@node_app.command("start")
def node_start(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="A network directory (mvote network init).")
    ],
    port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="gRPC port on 127.0.0.1 (default: listen.grpc; 0 picks a free one, and the "
            "other commands find it in DIR/listening.json).",
        ),
    ] = None,
    operations_port: Annotated[
        int | None,
        typer.Option(
            "--operations-port",
            min=0,
            max=65535,
            help="Port of the metrics and health endpoint (default: listen.operations; with "
            "--port 0, a free one).",
        ),
    ] = None,
    plaintext: Annotated[
        bool, typer.Option("--plaintext", help="Serve without TLS (local tests only).")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    voting_port: Annotated[
        int | None,
        typer.Option(
            "--voting-port",
            help="Also serve the mvote.v1 voting service for integrators (mutual TLS) on this "
            "port (0 picks a free one); needs TLS.",
        ),
    ] = None,
    voting_public_port: Annotated[
        int | None,
        typer.Option(
            "--voting-public-port",
            help="With --voting-port: its public address for voters and auditors (no client "
            "certificate) on this port.",
        ),
    ] = None,
    rest_port: Annotated[
        int | None,
        typer.Option(
            help="REST port on listen.rest's host (default: listen.rest's; 0 picks a free one, "
            "as it does when --port is 0)."
        ),
    ] = None,
) -> None:
    """Start the node, its gRPC services, the REST API (and the voting service when asked) and
    its operations endpoint (metrics, health); SIGTERM or SIGINT stops it gracefully."""
    # Imported here: the node's dependencies are an extra that other commands do not need.
    from mvote.node.logs import log_to_stderr
    from mvote.node.runtime import Node

    log_to_stderr(log_level)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        _event("signal", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        node = Node.open(directory)
        _share_metrics(node)
        node.start()
    except MvoteError as exc:
        _event("error", error=str(exc))
        raise typer.Exit(2) from None
    if operations_port is None and port == 0:
        operations_port = 0
    _serve(
        node,
        directory,
        stop,
        port=port,
        operations_port=operations_port,
        tls=not plaintext,
        log_level=log_level,
        voting=(voting_port, voting_public_port),
        rest_port=0 if rest_port is None and port == 0 else rest_port,
    )


def _share_metrics(node: Node) -> None:
    """The node's processes write their metrics into its ledger folder (metrics.py)."""
    from mvote.node.metrics import share_between_processes

    share_between_processes(node.ledger.directory / METRICS_DIR)


def _listen(
    node: Node,
    directory: Path,
    *,
    port: int | None,
    operations_port: int | None,
    tls: bool,
    log_level: str,
) -> tuple[NodeServer | GatewayProcesses, OperationsServer]:
    """Start the gRPC services and the operations endpoint. Raises OSError, RuntimeError or
    MvoteError (the node is stopped by the caller)."""
    from mvote.node.metrics import metrics
    from mvote.node.operations import OperationsServer
    from mvote.node.services.server import NodeServer
    from mvote.node.serving import GatewayProcesses

    # The operations endpoint first: a port taken there fails before any gateway process runs.
    host = node.config.listen.operations.host
    wanted = node.config.listen.operations.port if operations_port is None else operations_port
    try:
        operations = OperationsServer(host, wanted, metrics()).start()
    except OSError as exc:
        raise OSError(f"listen.operations: cannot bind {host}:{wanted}: {exc.strerror}") from exc
    server: NodeServer | GatewayProcesses
    try:
        if node.config.listen.gateway_processes:
            server = GatewayProcesses(
                node,
                directory.resolve(),
                count=node.config.listen.gateway_processes,
                port=port,
                tls=tls,
                log_level=log_level,
            ).start()
        else:
            server = NodeServer(node, port=port, tls=tls).start()
    except BaseException:
        operations.stop()
        raise
    # Every part this command serves registers its health here (a service in front of the node
    # adds its own check, e.g. "voting_service"): docs/operations.md.
    operations.check("node", node.unhealthy)
    if isinstance(server, GatewayProcesses):
        failed = server.failed
        operations.check(
            "gateway_processes", lambda: "a gateway process exited" if failed.is_set() else None
        )
    return server, operations


def _serve(
    node: Node,
    directory: Path,
    stop: threading.Event,
    *,
    port: int | None,
    operations_port: int | None,
    tls: bool,
    log_level: str,
    voting: tuple[int | None, int | None],
    rest_port: int | None,
) -> None:
    """Serve until ``stop`` is set (or a gateway process dies), then stop everything.
    ``voting``: the voting service's (port, public port); no port, no service."""
    from mvote.node.listening import Listening, forget
    from mvote.node.serving import GatewayProcesses

    try:
        server, operations = _listen(
            node,
            directory,
            port=port,
            operations_port=operations_port,
            tls=tls,
            log_level=log_level,
        )
    except (OSError, RuntimeError, MvoteError) as exc:
        node.stop()
        error = str(exc) if str(exc).startswith("listen.") else f"listen.grpc: {exc}"
        _event("error", error=error)
        raise typer.Exit(2) from None
    try:
        service = _start_voting(node, server, not tls, *voting)
        rest = _start_rest(node, server, service, rest_port)
    except typer.Exit:
        operations.stop()
        raise
    if service is not None:
        operations.check("voting_service", service.unhealthy)
    Listening(
        grpc=server.address, tls=server.tls, pid=os.getpid(), operations=operations.address
    ).save(directory)
    _event(
        "listening",
        grpc=server.address,
        rest=rest.url,
        operations=operations.address,
        tls=server.tls,
        tls_ca=str(server.tls_files.ca) if server.tls else None,
        channel=node.channel_id,
        height=node.ledger.height,
        gateway_processes=node.config.listen.gateway_processes,
        **_voting_addresses(service),
    )
    failed = server.failed if isinstance(server, GatewayProcesses) else threading.Event()
    while not stop.wait(0.5):
        if failed.is_set():
            _event("error", error="a gateway process exited; stopping the node")
            break
    forget(directory, os.getpid())
    # Stop taking calls first, then let the orderer cut what is queued and close the ledger.
    try:
        rest.stop()
        if service is not None:
            service.stop(grace=5)
        operations.stop()
        server.stop(grace=5)
    finally:
        height = node.ledger.height
        node.stop()
    _event("stopped", height=height)
    if failed.is_set():
        raise typer.Exit(1)


def _start_voting(
    node: Node,
    server: NodeServer | GatewayProcesses,
    plaintext: bool,
    port: int | None,
    public_port: int | None,
) -> Running | None:
    """The voting service in front of the node's Gateway (mvote.node.voting), if asked for."""
    from mvote.node.voting import start_embedded_service

    if port is None:
        return None
    if plaintext:
        server.stop(grace=1)
        node.stop()
        _event("error", error="--voting-port: the voting service needs TLS (no --plaintext)")
        raise typer.Exit(2)
    try:
        return start_embedded_service(
            node.material, server.address, port=port, public_port=public_port
        )
    except (OSError, MvoteError) as exc:
        server.stop(grace=1)
        node.stop()
        _event("error", error=f"--voting-port: {exc}")
        raise typer.Exit(2) from None


def _start_rest(
    node: Node, server: NodeServer | GatewayProcesses, voting: Running | None, port: int | None
) -> NodeRest:
    """The REST API on listen.rest (``port`` overrides its port) in front of the node's
    Gateway (mvote.node.rest), over the voting service's core when one runs."""
    from mvote.node.rest import start_rest

    try:
        return start_rest(
            node.material,
            server.address,
            tls_ca=server.tls_files.ca.read_bytes() if server.tls else None,
            port=port,
            service=None if voting is None else voting.service,
        )
    except (OSError, MvoteError) as exc:
        if voting is not None:
            voting.stop(grace=1)
        server.stop(grace=1)
        node.stop()
        _event("error", error=f"listen.rest: {exc}")
        raise typer.Exit(2) from None


def _voting_addresses(voting: Running | None) -> dict[str, str | None]:
    if voting is None:
        return {}
    public = None if voting.public is None else voting.public.address
    return {"voting": voting.server.address, "voting_public": public}


@node_app.command("check")
def node_check(
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="A network directory (its ledger) or a ledger directory."
        ),
    ],
    state: Annotated[
        bool,
        typer.Option("--state", help="Also check the world state and history: a replay."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the whole block file and index against each other (the node must be stopped).

    Exit 0: they agree; 1: the first inconsistency is reported; 2: nothing to check (no ledger,
    or a running node holds it)."""
    from mvote.node.config import CONFIG_FILE_NAME, load_node_config
    from mvote.node.ledger.check import check_ledger
    from mvote.node.ledger.store import BLOCK_FILE

    try:
        ledger_dir = directory
        if not (directory / BLOCK_FILE).exists() and (directory / CONFIG_FILE_NAME).is_file():
            ledger_dir = directory / load_node_config(directory / CONFIG_FILE_NAME).ledger_dir
        report = check_ledger(ledger_dir, state=state)
    except MvoteError as exc:
        _refuse(exc, as_json)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        what = "block file, index, state and history" if state else "block file and index"
        typer.echo(
            f"ledger {report.directory}: {report.blocks} blocks in the block file, "
            f"{report.height} indexed, {report.transactions} transactions"
        )
        for note in report.notes:
            typer.echo(f"note: {note}")
        if report.ok:
            typer.echo(f"ok: {what} agree")
        else:
            typer.echo(f"inconsistent: {report.inconsistency}")
    if not report.ok:
        raise typer.Exit(1)
