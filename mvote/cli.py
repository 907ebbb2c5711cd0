"""The operator's command line: ``mvote``.

May import every part of mvote. Commands that exist today: ``demo``. The rest of the command set
(network init, node start, question, roster, vote, tally, ...) arrives with the embedded node and
the client (see README.md).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from mvote import demo as demo_scenario
from mvote.client.identity import serialize_identity
from mvote.node.material import Identity, init_network

app = typer.Typer(
    name="mvote",
    help="mvote: public votes on a permissioned, Fabric-format ledger.",
    no_args_is_help=True,
    add_completion=True,
)

DEMO_ORGS = ("cityhall", "district", "education")


@app.callback()
def _root() -> None:
    """mvote: public votes on a permissioned, Fabric-format ledger."""


def _creator(identity: Identity) -> bytes:
    return serialize_identity(identity.msp_id, identity.certificate_pem())


@app.command()
def demo(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Where to create the demo network (default: a temporary folder)."
        ),
    ] = None,
    voters: Annotated[int, typer.Option(min=12, max=100_000, help="How many citizens vote.")] = 120,
    seed: Annotated[int, typer.Option(help="Seed of the simulated voters' choices.")] = 7,
) -> None:
    """Run the whole story: three institutions, three questions, voters, refusals, tallies."""
    with tempfile.TemporaryDirectory(prefix="mvote-demo-") as scratch:
        root = directory or Path(scratch)
        started = time.perf_counter()
        network = init_network(root / "network", DEMO_ORGS)
        typer.echo(
            f"[0/6] network: {', '.join(o.msp_id for o in network.peer_orgs)} in {root / 'network'}"
        )
        typer.echo(
            f"      channel {network.config.channel}, genesis block hash {network.genesis_hash.hex()}"
        )
        operators = demo_scenario.Operators(
            cityhall=_creator(network.org("cityhall").admin),
            district=_creator(network.org("district").admin),
            education=_creator(network.org("education").admin),
            client=_creator(network.org("cityhall").client),
        )
        channel = demo_scenario.InProcessChannel(network.config.channel)
        demo_scenario.run(channel, operators, voters=voters, seed=seed, out=typer.echo)
        typer.echo(
            f"\n{channel.ledger.height} transactions committed in-process in "
            f"{time.perf_counter() - started:.1f} s. (The embedded node, which cuts real Fabric "
            "blocks, is the next step: see README.md.)"
        )


def main() -> None:
    app()
