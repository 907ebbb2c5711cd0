"""The operator's and the voter's command line: ``mvote``.

May import every part of mvote. The commands live in this package's modules:

- ``node_cmds``: ``network init``, ``node start``
- ``demo_cmd``: ``demo``
- ``operator``: ``question ...``, ``roster ...``, ``tally``, ``results``, ``export``
- ``voter``: ``wallet ...``, ``registrar keygen``, ``credential issue``, ``vote``, ``history``
- ``service_cmds``: ``serve``, ``fetch-chain``, ``network profile``, ``network integrator``
- ``trustee``: ``trustee keygen``, ``trustee ceremony ...``, ``trustee check``, ``trustee decrypt``

Every command that talks to a node does so over the Fabric Gateway (``--node``, ``--network``,
``--org``, ``--identity``); see docs/cli.md. Exit codes: 0 done, 1 refused or a check failed,
2 bad input or usage.
"""

from __future__ import annotations

import typer

from mvote.cli import demo_cmd, node_cmds, operator, service_cmds, trustee, voter

app = typer.Typer(
    name="mvote",
    help="mvote: public votes on a permissioned, Fabric-format ledger.",
    no_args_is_help=True,
    add_completion=True,
)


@app.callback()
def _root() -> None:
    """mvote: public votes on a permissioned, Fabric-format ledger."""


app.command("demo")(demo_cmd.demo)
app.add_typer(node_cmds.network_app, name="network")
app.add_typer(node_cmds.node_app, name="node")
app.add_typer(operator.question_app, name="question")
app.add_typer(operator.roster_app, name="roster")
app.add_typer(voter.wallet_app, name="wallet")
app.add_typer(voter.registrar_app, name="registrar")
app.add_typer(voter.credential_app, name="credential")
app.add_typer(trustee.trustee_app, name="trustee")
app.command("vote")(voter.vote)
app.command("history")(voter.history)
app.command("results")(operator.results)
app.command("tally")(operator.tally)
app.command("export")(operator.export)
app.command("serve")(service_cmds.serve)
app.command("fetch-chain")(service_cmds.fetch_chain)
node_cmds.network_app.command("profile")(service_cmds.profile)
node_cmds.network_app.command("integrator")(service_cmds.integrator)


def main() -> None:
    app()
