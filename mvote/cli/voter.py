"""The voter's and the registrar's commands: ``wallet``, ``registrar keygen``, ``credential
issue``, ``vote``, ``history``."""

from __future__ import annotations

import re
import time
import unicodedata
from pathlib import Path
from typing import Annotated, Any

import click
import nacl.pwhash
import nacl.signing
import typer

from mvote.chaincode import _keys as keys
from mvote.chaincode._errors import CeremonyNotComplete
from mvote.chaincode._records import (
    SIGNED_CREDENTIAL_SHAPE,
    CastRequest,
    Credential,
    QuestionSpec,
    SignedCredential,
)
from mvote.cli._common import (
    DEFAULT_NETWORK,
    ENV_NEW_PASSPHRASE,
    REFUSED,
    JsonOpt,
    NetworkOpt,
    Output,
    about_file,
    fail,
    failure_of,
    local_time,
    passphrase,
    read_json_file,
    remote,
    run,
    write_json_file,
)
from mvote.cli._connect import ANYWHERE, Target, connected, load_material
from mvote.cli.operator import parse_duration
from mvote.client import recipes
from mvote.client._registrar import issue_credential
from mvote.client._secret import PreparedSecretBallot
from mvote.client._voting import VotingContract
from mvote.client._wallet import FAST_LIMITS, Limits, Wallet

wallet_app = typer.Typer(help="A voter's key, sealed under a passphrase.", no_args_is_help=True)
registrar_app = typer.Typer(help="Registrar keys (open eligibility).", no_args_is_help=True)
credential_app = typer.Typer(help="Registrar credentials for voter keys.", no_args_is_help=True)

PassFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help="Read the passphrase from this file's first line (else $MVOTE_PASSPHRASE, else a prompt).",
    ),
]
KdfOpt = Annotated[
    str,
    typer.Option(
        "--kdf",
        help="Argon2id cost: moderate (256 MiB, default), interactive (64 MiB) or min (tests only).",
    ),
]
_KDF = {
    "moderate": Limits(),
    "interactive": Limits(
        nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
    ),
    "min": FAST_LIMITS,
}


def _limits(kdf: str) -> Limits:
    if kdf not in _KDF:
        fail(f"--kdf: expected moderate, interactive or min, got {kdf!r}")
    return _KDF[kdf]


def _load_wallet(path: Path) -> Wallet:
    if not path.is_file():
        fail(f"wallet: no file {path}", hint="create one with `mvote wallet create FILE`")
    with about_file(path, "wallet"):
        return Wallet.load(path)


def _refuse_overwrite(path: Path, force: bool) -> None:
    if path.exists() and not force:
        fail(
            f"{path} exists: a wallet is never overwritten",
            hint="choose another file or pass --force",
        )


def _wallet_info(wallet: Wallet, path: Path) -> dict[str, Any]:
    return {
        "file": str(path),
        "public_key": wallet.public_key,
        "voter_hash": keys.voter_hash(bytes.fromhex(wallet.public_key)).hex(),
    }


# --- wallet ------------------------------------------------------------------------------------


@wallet_app.command("create")
def wallet_create(
    path: Annotated[Path, typer.Argument(help="The wallet file to write.")],
    passphrase_file: PassFileOpt = None,
    kdf: KdfOpt = "moderate",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Make a new voter key on this device and seal it under a passphrase."""

    def body(out: Output) -> None:
        _refuse_overwrite(path, force)
        secret = passphrase(passphrase_file, prompt="New wallet passphrase", confirm=True)
        wallet = Wallet.create(secret, limits=_limits(kdf))
        wallet.save(path)
        info = _wallet_info(wallet, path)
        out.result(
            info,
            f"wallet {path}\npublic key {info['public_key']}\n"
            f"give the public key to your roster's operator or to a registrar",
        )

    run(as_json, body)


@wallet_app.command("show")
def wallet_show(
    path: Annotated[Path, typer.Argument(help="The wallet file.")],
    as_json: JsonOpt = False,
) -> None:
    """Show a wallet's public key and roster hash (no passphrase needed)."""

    def body(out: Output) -> None:
        info = _wallet_info(_load_wallet(path), path)
        out.result(
            info, f"wallet {path}\npublic key {info['public_key']}\nvoter hash {info['voter_hash']}"
        )

    run(as_json, body)


@wallet_app.command("export")
def wallet_export(
    path: Annotated[Path, typer.Argument(help="The wallet file.")],
    out_file: Annotated[Path, typer.Argument(help="Where to write the exported copy.")],
    passphrase_file: PassFileOpt = None,
    new_passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--new-passphrase-file",
            help="The transfer passphrase's file (else $MVOTE_NEW_PASSPHRASE, else a prompt).",
        ),
    ] = None,
    kdf: KdfOpt = "moderate",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Copy the key to move it to another device, sealed under a new (transfer) passphrase."""
    _reseal(path, out_file, passphrase_file, new_passphrase_file, kdf, force, as_json, "exported")


@wallet_app.command("import")
def wallet_import(
    exported: Annotated[Path, typer.Argument(help="An exported wallet file.")],
    path: Annotated[Path, typer.Argument(help="The wallet file to write on this device.")],
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file",
            help="The transfer passphrase's file (else $MVOTE_PASSPHRASE, else a prompt).",
        ),
    ] = None,
    new_passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--new-passphrase-file",
            help="This device's passphrase's file (else $MVOTE_NEW_PASSPHRASE, else a prompt).",
        ),
    ] = None,
    kdf: KdfOpt = "moderate",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Take in an exported wallet: open it with the transfer passphrase, seal it under yours."""
    _reseal(exported, path, passphrase_file, new_passphrase_file, kdf, force, as_json, "imported")


def _reseal(
    source: Path,
    target: Path,
    passphrase_file: Path | None,
    new_passphrase_file: Path | None,
    kdf: str,
    force: bool,
    as_json: bool,
    verb: str,
) -> None:
    def body(out: Output) -> None:
        _refuse_overwrite(target, force)
        wallet = _load_wallet(source)
        old = passphrase(passphrase_file, prompt=f"Passphrase of {source}")
        wallet.unlock(old)
        new = passphrase(
            new_passphrase_file,
            env=ENV_NEW_PASSPHRASE,
            prompt=f"New passphrase for {target}",
            confirm=True,
        )
        copy = wallet.export(old, new, limits=_limits(kdf))
        copy.save(target)
        info = _wallet_info(copy, target)
        out.result(info, f"{verb} the key {info['public_key']} to {target}")

    run(as_json, body)


# --- registrar ---------------------------------------------------------------------------------


@registrar_app.command("keygen")
def registrar_keygen(
    path: Annotated[Path, typer.Argument(help="The registrar key file to write (a wallet).")],
    passphrase_file: PassFileOpt = None,
    kdf: KdfOpt = "moderate",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Make a registrar's signing key, sealed under a passphrase like a voter wallet."""

    def body(out: Output) -> None:
        _refuse_overwrite(path, force)
        secret = passphrase(passphrase_file, prompt="New registrar passphrase", confirm=True)
        wallet = Wallet.create(secret, limits=_limits(kdf))
        wallet.save(path)
        out.result(
            {"file": str(path), "public_key": wallet.public_key},
            f"registrar key {path}\npublic key {wallet.public_key}\n"
            f"questions that trust it: mvote question create ... --registrar {wallet.public_key}",
        )

    run(as_json, body)


@credential_app.command("issue")
def credential_issue(
    registrar: Annotated[Path, typer.Option("--registrar", help="The registrar key file.")],
    out_file: Annotated[Path, typer.Option("--out", help="The credential file to write.")],
    voter: Annotated[
        str | None, typer.Option("--voter", help="The voter's public key (hex).")
    ] = None,
    voter_wallet: Annotated[
        Path | None, typer.Option("--voter-wallet", help="Or the voter's wallet file.")
    ] = None,
    qid: Annotated[
        str | None,
        typer.Option(
            "--qid",
            help="Only for this question (default: every question that trusts the registrar).",
        ),
    ] = None,
    expires_in: Annotated[str, typer.Option(help="Validity (30d, 12h).")] = "30d",
    channel: Annotated[
        str | None, typer.Option(help="Channel (default: the --network's, else mvote).")
    ] = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    passphrase_file: PassFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Sign a voter's key for a question, after the registrar's own off-chain check of the person."""

    def body(out: Output) -> None:
        if (voter is None) == (voter_wallet is None):
            fail("give exactly one of --voter HEX and --voter-wallet FILE")
        public = voter if voter is not None else _load_wallet(voter_wallet).public_key  # type: ignore[arg-type]
        if not re.fullmatch(r"[0-9a-f]{64}", public):
            fail(f"--voter: expected 64 lowercase hex digits, got {public!r}")
        name = channel
        if name is None:
            name = (
                load_material(network).config.channel
                if (network / "mvote-node.yaml").is_file()
                else "mvote"
            )
        key = _load_wallet(registrar).unlock(
            passphrase(passphrase_file, prompt="Registrar passphrase")
        )
        expires = int(time.time()) + parse_duration(expires_in, "--expires-in")
        credential = issue_credential(
            key, channel=name, voter=public, expires_at=expires, scope=qid or "*"
        )
        write_json_file(out_file, credential.to_json())
        out.result(
            {"file": str(out_file), "credential": credential.to_json()},
            f"credential for {public} (scope {qid or '*'}, channel {name}, expires "
            f"{local_time(expires, with_seconds=False)}) in {out_file}\n"
            f"the voter votes with: mvote vote QID --credential {out_file} ...",
        )

    run(as_json, body)


def load_credential(path: Path) -> SignedCredential:
    with about_file(path, "--credential"):
        doc = SIGNED_CREDENTIAL_SHAPE.check(read_json_file(path, "--credential"), "credential")
        return SignedCredential(Credential.from_json(doc["body"], "credential.body"), doc["sig"])


# --- vote and history --------------------------------------------------------------------------


def nfc(text: str) -> str:
    """Text as the ledger holds it: Unicode NFC (Korean typed on a Mac arrives as NFD)."""
    return unicodedata.normalize("NFC", text)


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def choice_indexes(options: tuple[str, ...], given: list[str]) -> list[int]:
    """Choices by option text (NFC, case-insensitive) or by number as `mvote question show`
    lists them, from 1. ``#N`` is always the N-th option. When an option's text is itself a
    number, a bare number means that text and nothing else: it is never taken as a position
    (an unmatched number is refused, naming ``#N``)."""
    return [_choice_index(options, nfc(text).strip()) for text in given]


def _choice_index(options: tuple[str, ...], text: str) -> int:
    matches = [i for i, o in enumerate(options) if o.casefold() == text.casefold()]
    if matches:
        return matches[0]
    numeric_options = any(_is_number(o.strip()) for o in options)
    position = text[1:] if text.startswith("#") else text
    if _is_number(position) and (text.startswith("#") or not numeric_options):
        index = int(position) - 1
        if not 0 <= index < len(options):
            fail(
                f"--choice: {text} is not an option number (1..{len(options)})",
                hint="`mvote question show QID` lists the options and their numbers",
            )
        return index
    hint = "`mvote question show QID` lists the options and their numbers"
    if _is_number(text):
        hint = f"this question's options are numbers: give the option's text, or #{text} for option number {text}"
    fail(f"--choice: no option {text!r}", hint=hint)


def _numbered(options: tuple[str, ...], choices: list[int]) -> str:
    return ", ".join(f"{i + 1}. {options[i]}" for i in sorted(choices)) or "no option (blank)"


CAST, AUDIT = "cast", "audit"


@connected
def vote(
    qid: Annotated[str, typer.Argument(help="Question id.")],
    wallet: Annotated[Path, typer.Option("--wallet", help="Your wallet file.")],
    choice: Annotated[
        list[str],
        typer.Option(
            "--choice",
            "-c",
            help="An option's text, or its number from 1 (#N: always the number); repeat.",
        ),
    ],
    credential: Annotated[
        Path | None,
        typer.Option("--credential", help="A registrar credential file (open questions)."),
    ] = None,
    code: Annotated[
        str | None, typer.Option("--code", help="The code shown on site (on-site questions).")
    ] = None,
    receipt: Annotated[
        Path | None,
        typer.Option("--receipt", help="Where to write the receipt (default receipt-QID.json)."),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Cast without asking for confirmation (scripts)."),
    ] = False,
    audit: Annotated[
        bool,
        typer.Option(
            "--audit",
            help="Secret questions: audit the prepared ballot instead of casting it, without "
            "asking (scripts; interactively, choose audit at the confirmation).",
        ),
    ] = False,
    spoiled_file: Annotated[
        Path | None,
        typer.Option(
            "--spoiled",
            help="Where an audited ballot's file goes (default spoiled-QID-TRACKER.json).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing receipt file.")
    ] = False,
    passphrase_file: PassFileOpt = None,
    target: Target = ANYWHERE,
) -> None:
    """Prepare a ballot signed with your wallet's key, confirm it, cast it; write a receipt you
    can verify offline. On a secret question the ballot is encrypted on this device first and
    its tracker shown; then you choose to cast it or to audit it (cast-or-audit): an audited
    ballot is opened on the ledger, never cast, and checked on a second device with
    `mvote-verify spoiled FILE`; you then vote again."""

    def body(out: Output) -> None:
        if yes and audit:
            fail("give at most one of --yes (cast) and --audit")
        receipt_file = receipt or Path(f"receipt-{qid}.json")
        if not audit:
            _refuse_overwrite_receipt(receipt_file, force)
        keyfile = _load_wallet(wallet)
        signed_credential = load_credential(credential) if credential is not None else None
        with target.voter() as conn:
            with remote():
                spec = conn.contract.get_question(qid).spec
            if audit and spec.mode != "secret":
                fail(f"--audit: {qid} is an open-mode question; only secret ballots are audited")
            choices = choice_indexes(spec.options, choice)
            if len(set(choices)) != len(choices):
                fail(f"--choice: an option is given twice ({choice})")
            key = keyfile.unlock(passphrase(passphrase_file))
            prepared = _prepare(conn.contract, key, spec, choices, signed_credential, code)
            decision = AUDIT if audit else _confirm(out, spec, choices, prepared, yes)
            chaincode = conn.chaincode
            # The anchor comes from the network's material or the profile, never from the
            # receipt itself.
            anchor = conn.genesis_hash
            if decision == AUDIT and isinstance(prepared, PreparedSecretBallot):
                path = _spoiled_file(spoiled_file, spec.qid, prepared.tracker)
                with remote():
                    spoiled = recipes.spoil_prepared(
                        conn.contract, prepared, conn.block_source(), chaincode=chaincode
                    )
                _report_spoiled(out, spec, prepared, spoiled, path, anchor)
                return
            with remote():
                voted = recipes.cast_prepared(
                    conn.contract, prepared, conn.block_source(), chaincode=chaincode
                )
        if voted.warning is not None:
            out.progress(
                f"warning: the receipt carries no question/ceremony blocks ({voted.warning}); "
                "check its proofs with the chain: mvote-verify receipt FILE --chain CHAIN "
                f"--genesis-hash {anchor}"
            )
        _report_vote(out, qid, spec, choices, voted, receipt_file, anchor)

    run(target.as_json, body)


def _refuse_overwrite_receipt(path: Path, force: bool) -> None:
    """A receipt is the voter's proof: never replaced without --force (checked before voting)."""
    if path.exists() and not force:
        fail(
            f"{path} exists: a receipt is never overwritten",
            error="FILE_EXISTS",
            hint="choose another file with --receipt FILE, or pass --force",
        )


def _confirm(
    out: Output,
    spec: QuestionSpec,
    choices: list[int],
    prepared: CastRequest | PreparedSecretBallot,
    yes: bool,
) -> str:
    """The confirmation before casting: the question, the choices by number and label, and for
    a secret ballot its tracker, already encrypted. Then the voter's decision: cast, or (secret)
    audit; declining ends the command (nothing is sent). ``yes``: cast without asking."""
    secret = isinstance(prepared, PreparedSecretBallot)
    lines = [
        f"question {spec.qid}: {spec.title}",
        f"your choice: {_numbered(spec.options, choices)}",
    ]
    if isinstance(prepared, PreparedSecretBallot):
        lines.append(f"encrypted ballot, tracker {prepared.tracker}")
    if yes:
        return CAST
    typer.echo("\n".join(lines), err=True)
    question = (
        "cast this ballot, or audit it (it is then opened and never cast)? [cast/audit/no]"
        if secret
        else "cast this ballot? [yes/no]"
    )
    try:
        answer = typer.prompt(question, default="no", err=True).strip().lower()
    except (click.Abort, typer.Abort):  # end of input: no terminal to answer at
        fail(
            "confirmation: no answer (not a terminal)",
            error="NOT_CONFIRMED",
            hint="run it in a terminal, or pass --yes to cast without asking",
        )
    if answer in ("cast", "c", "yes", "y"):
        return CAST
    if secret and answer in ("audit", "a"):
        return AUDIT
    fail(f"not cast: you answered {answer!r}", error="NOT_CONFIRMED", code=REFUSED)


def _prepare(
    contract: VotingContract,
    key: nacl.signing.SigningKey,
    spec: QuestionSpec,
    choices: list[int],
    credential: SignedCredential | None,
    code: str | None,
) -> CastRequest | PreparedSecretBallot:
    """The signed ballot; a secret question whose ceremony has no key yet is refused (exit 1),
    a choice the rule forbids is bad input (exit 2)."""
    try:
        return recipes.prepare_vote(contract, key, spec, choices, credential=credential, code=code)
    except CeremonyNotComplete as exc:
        raise failure_of(exc, remote=True) from exc


def _report_vote(
    out: Output,
    qid: str,
    spec: QuestionSpec,
    choices: list[int],
    voted: recipes.Voted,
    receipt_file: Path,
    anchor: str,
) -> None:
    receipt_file.parent.mkdir(parents=True, exist_ok=True)
    receipt_file.write_bytes(voted.receipt.to_bytes())
    done, tracker = voted.cast, voted.cast.tracker
    out.result(
        {
            "qid": qid,
            "mode": spec.mode,
            "choices": sorted(choices),
            "labels": [spec.options[i] for i in sorted(choices)],
            "tracker": tracker,
            "tx": done.transaction_id,
            "block": done.block_number,
            "receipt": str(receipt_file),
            "genesis_hash": anchor,
        },
        f"{'encrypted ballot' if spec.mode == 'secret' else 'ballot'} cast on {qid}: "
        f"{_numbered(spec.options, choices)}\n"
        f"tracker {tracker}\n"
        f"committed in block {done.block_number}, tx {done.transaction_id}\n"
        f"receipt {receipt_file}; check it offline: mvote-verify receipt {receipt_file} "
        f"--genesis-hash {anchor}",
    )


def _spoiled_file(given: Path | None, qid: str, tracker: str) -> Path:
    """Where an audited ballot's file goes: never over an existing file."""
    path = given or Path(f"spoiled-{qid}-{tracker[:12]}.json")
    if path.exists():
        fail(f"{path} exists: a spoiled-ballot file is never overwritten", error="FILE_EXISTS")
    return path


def _report_spoiled(
    out: Output,
    spec: QuestionSpec,
    prepared: PreparedSecretBallot,
    spoiled: recipes.Spoiled,
    path: Path,
    anchor: str,
) -> None:
    """Cast-or-audit, audited: the ballot is on the ledger as spoiled with its opening, never
    cast; the file (``path``) lets a second device check what it encrypted."""
    path.write_bytes(spoiled.file.to_bytes())
    shown = list(spoiled.result.choices)
    out.result(
        {
            "qid": spec.qid,
            "audited": True,
            "cast": False,
            "choices": shown,
            "labels": [spec.options[i] for i in shown],
            "matches": shown == sorted(prepared.choices),
            "nonce_key": prepared.nonce_key.hex(),
            "tracker": prepared.tracker,
            "tx": spoiled.result.transaction_id,
            "block": spoiled.result.block_number,
            "spoiled_file": str(path),
            "genesis_hash": anchor,
        },
        f"ballot {prepared.tracker} audited and spoiled on {spec.qid}, NOT cast "
        f"(block {spoiled.result.block_number})\n"
        f"opened, it encrypts: {_numbered(spec.options, shown)}\n"
        f"check it on another device: mvote-verify spoiled {path} --genesis-hash {anchor}\n"
        "to vote, run the command again: a fresh ballot is prepared",
    )


@connected
def history(
    wallet: Annotated[Path | None, typer.Option("--wallet", help="A wallet file.")] = None,
    voter: Annotated[str | None, typer.Option("--voter", help="Or a voter public key.")] = None,
    target: Target = ANYWHERE,
) -> None:
    """A voter's participation: every question they voted on, with tracker and transaction
    (verified from the genesis hash: endorsed by enough organisations, or read from the
    verified chain)."""

    def body(out: Output) -> None:
        if (wallet is None) == (voter is None):
            fail("give exactly one of --wallet FILE and --voter HEX")
        public = voter if voter is not None else _load_wallet(wallet).public_key  # type: ignore[arg-type]
        if not re.fullmatch(r"[0-9a-f]{64}", public):
            fail(f"--voter: expected 64 lowercase hex digits, got {public!r}")
        with target.voter() as conn, remote():
            entries = recipes.history(conn.contract, public)

        def human() -> str:
            if not entries:
                return f"voter {public} has not voted yet"
            lines = [f"voter {public}: {len(entries)} ballot(s)"]
            lines += [
                f"  {e.qid:<24} {local_time(e.at, with_seconds=False)}  "
                f"tracker {e.tracker[:16]}...  tx {e.tx[:16]}..."
                for e in entries
            ]
            return "\n".join(lines)

        history = [e.to_json() for e in entries]
        out.result({"voter": public, "history": history}, human)

    run(target.as_json, body)
