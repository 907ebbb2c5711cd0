"""``mvote network init``, ``mvote node start`` and ``mvote node check``."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from mvote.chaincode._errors import MvoteError
from mvote.node.config import DEFAULT_CHAINCODE, DEFAULT_CHANNEL
from mvote.node.material import init_network

if TYPE_CHECKING:
    from mvote.node.runtime import Node
    from mvote.node.services.server import NodeServer
    from mvote.node.serving import GatewayProcesses
    from mvote.service._serve import Running

DEMO_ORGS = ("cityhall", "district", "education")

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
    directory: Annotated[Path, typer.Argument(help="Directory to create the network in.")],
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
    directory: Annotated[Path, typer.Argument(help="A network directory (mvote network init).")],
    port: Annotated[
        int | None,
        typer.Option(help="gRPC port on 127.0.0.1 (default: listen.grpc; 0 picks a free one)."),
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
) -> None:
    """Start the node and its gRPC services; SIGTERM or SIGINT stops it gracefully."""
    # Imported here: the node's dependencies are an extra that other commands do not need.
    from mvote.node.logs import log_to_stderr
    from mvote.node.runtime import Node
    from mvote.node.services.server import NodeServer
    from mvote.node.serving import GatewayProcesses

    log_to_stderr(log_level)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        _event("signal", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        node = Node.open(directory)
        node.start()
    except MvoteError as exc:
        _event("error", error=str(exc))
        raise typer.Exit(2) from None
    processes = node.config.listen.gateway_processes
    server: NodeServer | GatewayProcesses
    try:
        if processes:
            server = GatewayProcesses(
                node,
                directory.resolve(),
                count=processes,
                port=port,
                tls=not plaintext,
                log_level=log_level,
            ).start()
        else:
            server = NodeServer(node, port=port, tls=not plaintext).start()
    except (OSError, RuntimeError, MvoteError) as exc:
        node.stop()
        _event("error", error=f"listen.grpc: {exc}")
        raise typer.Exit(2) from None
    voting = _start_voting(node, server, plaintext, voting_port, voting_public_port)
    _event(
        "listening",
        grpc=server.address,
        tls=server.tls,
        tls_ca=str(server.tls_files.ca) if server.tls else None,
        channel=node.channel_id,
        height=node.ledger.height,
        gateway_processes=processes,
        **_voting_addresses(voting),
    )
    failed = server.failed if isinstance(server, GatewayProcesses) else threading.Event()
    while not stop.wait(0.5):
        if failed.is_set():
            _event("error", error="a gateway process exited; stopping the node")
            break
    # Stop taking calls first, then let the orderer cut what is queued and close the ledger.
    try:
        if voting is not None:
            voting.stop(grace=5)
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


def _voting_addresses(voting: Running | None) -> dict[str, str | None]:
    if voting is None:
        return {}
    public = None if voting.public is None else voting.public.address
    return {"voting": voting.server.address, "voting_public": public}


@node_app.command("check")
def node_check(
    directory: Annotated[
        Path, typer.Argument(help="A network directory (its ledger) or a ledger directory.")
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
