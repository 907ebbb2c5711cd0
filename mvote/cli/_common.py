"""What every ``mvote`` command shares: options, output, exit codes, errors, the node connection.

Exit codes: 0 done; 1 the ledger refused (a typed contract or node error) or a check failed;
2 bad input or usage (unreadable or invalid files and arguments, a wrong passphrase, no network
folder, no node at the address). Errors name their code and say what to do next.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import click
import typer

from mvote.chaincode._errors import MvoteError

OK, REFUSED, BAD_INPUT = 0, 1, 2

#: Environment variables that stand in for options (for scripts).
ENV_NETWORK = "MVOTE_NETWORK"
ENV_NODE = "MVOTE_NODE"
ENV_PASSPHRASE = "MVOTE_PASSPHRASE"
ENV_NEW_PASSPHRASE = "MVOTE_NEW_PASSPHRASE"

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
NetworkOpt = Annotated[
    Path,
    typer.Option(
        "--network",
        envvar=ENV_NETWORK,
        help="The network folder (mvote network init): TLS CA, identities, channel.",
    ),
]
NodeOpt = Annotated[
    str | None,
    typer.Option(
        "--node",
        envvar=ENV_NODE,
        help="The node's gRPC address HOST:PORT (default: listen.grpc of the network's mvote-node.yaml).",
    ),
]
OrgOpt = Annotated[
    str | None,
    typer.Option(
        "--org", help="Act as this organisation (short name or MSP id; default: the first)."
    ),
]
PlaintextOpt = Annotated[
    bool,
    typer.Option("--plaintext", help="Connect without TLS (a node started with --plaintext)."),
]

DEFAULT_NETWORK = Path("network")

#: What to do next, by error code.
HINTS: dict[str, str] = {
    "NOT_FOUND": "check the id: `mvote question list` lists the questions",
    "UNAUTHORISED": "act as the owning organisation's admin: --org ORG --identity admin",
    "INVALID_TRANSITION": "see the question's state with `mvote question show QID`",
    "QUESTION_NOT_OPEN": "the question is not open now: `mvote question show QID` shows its state and schedule",
    "ALREADY_VOTED": "this key has voted on the question; `mvote history --wallet FILE` shows the ballot",
    "NOT_ELIGIBLE": "the voter key is not on the question's roster (or has no valid credential)",
    "BAD_CREDENTIAL": "get a credential from one of the question's registrars (`mvote credential issue`) and pass --credential FILE",
    "BAD_ONSITE_CODE": "pass the code shown on site with --code",
    "RULE_VIOLATION": "choose as many options as the question's rule allows: `mvote question show QID`",
    "ROSTER_SEALED": "a sealed roster never changes: create a new roster",
    "ROSTER_NOT_SEALED": "seal the roster first: `mvote roster seal RID`",
    "AGGREGATION_INCOMPLETE": "`mvote tally QID` aggregates every shard, then tallies",
    "NOT_VERIFIED": "nothing was sent: the node's answer does not verify from the genesis hash; use another node (--node) and tell the operators",
    "ALREADY_EXISTS": "choose another id, or use the existing record",
    "WRONG_PASSPHRASE": f"check the passphrase (prompt, --passphrase-file or ${ENV_PASSPHRASE})",
    "INVALID_FIELD": "fix the named field and run the command again",
    "MATERIAL_INVALID": "point --network at a folder made by `mvote network init`",
    "UNAVAILABLE": "is the node running? start it with `mvote node start DIR`, and check --node and --plaintext",
}


class Failure(Exception):
    """A command's end: exit ``code`` after printing ``message`` (and ``hint``)."""

    def __init__(
        self, code: int, error: str, message: str, *, hint: str = "", field: str | None = None
    ) -> None:
        super().__init__(message)
        self.exit_code = code
        self.error = error
        self.message = message
        self.hint = hint
        self.field = field


def fail(message: str, *, error: str = "USAGE", code: int = BAD_INPUT, hint: str = "") -> NoReturn:
    raise Failure(code, error, message, hint=hint)


def failure_of(exc: MvoteError, *, remote: bool) -> Failure:
    """A typed error as a command's end: refused (1) when the ledger said it, else bad input."""
    from mvote.client._errors import GatewayError, NotVerified

    code = exc.code
    hint = HINTS.get(code, "")
    # A node's answer that does not verify is a refusal (a check failed), wherever it surfaces.
    exit_code = REFUSED if remote or isinstance(exc, NotVerified) else BAD_INPUT
    if isinstance(exc, GatewayError):
        # No typed cause: the call itself failed (no node there, TLS mismatch, timeout).
        code = f"{exc.code}/{exc.grpc_code}"
        hint = HINTS.get(exc.grpc_code, hint)
        if exc.grpc_code in ("UNAVAILABLE",):
            exit_code = BAD_INPUT
    return Failure(exit_code, code, exc.message, hint=hint, field=exc.field)


@contextmanager
def remote() -> Iterator[None]:
    """Typed errors raised inside are the ledger's refusals (exit 1)."""
    try:
        yield
    except MvoteError as exc:
        raise failure_of(exc, remote=True) from exc


@dataclass
class Output:
    as_json: bool

    def result(self, data: Any, human: str | Callable[[], str]) -> None:
        if self.as_json:
            typer.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True))
        else:
            typer.echo(human() if callable(human) else human)

    def progress(self, text: str) -> None:
        """A progress line: on stderr, so stdout stays the result (and valid JSON)."""
        if not self.as_json:
            typer.echo(text, err=True)


def run(as_json: bool, body: Callable[[Output], None]) -> None:
    """Run a command body; map its failures to a message and an exit code."""
    out = Output(as_json)
    try:
        body(out)
    except Failure as failure:
        _report(out, failure)
        raise typer.Exit(failure.exit_code) from None
    except MvoteError as exc:
        local = failure_of(exc, remote=False)
        _report(out, local)
        raise typer.Exit(local.exit_code) from None
    except OSError as exc:
        _report(out, Failure(BAD_INPUT, "OS_ERROR", str(exc)))
        raise typer.Exit(BAD_INPUT) from None


def _report(out: Output, f: Failure) -> None:
    if out.as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": False,
                    "exit_code": f.exit_code,
                    "error": {
                        "code": f.error,
                        "message": f.message,
                        "field": f.field,
                        "hint": f.hint or None,
                    },
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    word = "refused" if f.exit_code == REFUSED else "error"
    typer.echo(f"{word}: {f.error}: {f.message}", err=True)
    if f.hint:
        typer.echo(f"  what to do: {f.hint}", err=True)


# --- files -------------------------------------------------------------------------------------


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{what}: cannot read {path}: {exc}", error="UNREADABLE")


def read_json_file(path: Path, what: str) -> Any:
    try:
        return json.loads(read_text(path, what))
    except json.JSONDecodeError as exc:
        fail(f"{what}: {path} is not JSON: {exc}", error="MALFORMED")


def write_json_file(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --- passphrases -------------------------------------------------------------------------------


def passphrase(
    file: Path | None,
    *,
    env: str = ENV_PASSPHRASE,
    prompt: str = "Wallet passphrase",
    confirm: bool = False,
) -> str:
    """From ``file`` (its first line), else the environment variable, else a prompt."""
    if file is not None:
        lines = read_text(file, "passphrase file").splitlines()
        value = lines[0] if lines else ""
    elif os.environ.get(env):
        value = os.environ[env]
    else:
        try:
            value = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
        except click.Abort:
            fail(
                "passphrase: none given",
                error="NO_PASSPHRASE",
                hint=f"type it at the prompt, pass --passphrase-file FILE or set ${env}",
            )
    if not value:
        fail("passphrase: must not be empty", error="NO_PASSPHRASE")
    return value
