"""The trustees' commands (secret ballots): ``trustee keygen``, ``trustee ceremony
create|deal|complete|show``, ``trustee check``, ``trustee decrypt``.

A trustee's private state (its group key, its Ed25519 posting key, its polynomial, and its
secret share once the ceremony completes) lives in one file on its own device, written mode
0600 and sealed like a voter wallet: XSalsa20-Poly1305 (secretbox) under an Argon2id key from
the passphrase. The public parts (the ceremony, the trustee's index, its registration, the
dealing it posted) are in clear, so the file can be shown without its passphrase.

Every posting is signed with the trustee's key and submitted by an admin of ``--org``, endorsed
like every other write (docs/secret-ballots.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from mvote.chaincode import encoding
from mvote.chaincode._crypto.elgamal import Ciphertext
from mvote.chaincode._errors import (
    AggregationIncomplete,
    InvalidField,
    InvalidTransition,
    MvoteError,
)
from mvote.chaincode._secret import Ceremony
from mvote.cli._common import (
    DEFAULT_NETWORK,
    REFUSED,
    Failure,
    JsonOpt,
    NetworkOpt,
    Output,
    fail,
    failure_of,
    passphrase,
    read_json_file,
    remote,
    run,
)
from mvote.cli._connect import ANYWHERE, Connection, Target, connected, load_material
from mvote.cli.voter import KdfOpt, PassFileOpt, _limits
from mvote.client import _trustee as tr
from mvote.client import recipes
from mvote.client._files import write_private
from mvote.client._voting import VotingContract
from mvote.client._wallet import Limits, WrongPassphrase, seal, unseal

trustee_app = typer.Typer(
    help="Trustees of secret ballots: keys, the k-of-n key ceremony, partial decryptions.",
    no_args_is_help=True,
)
ceremony_app = typer.Typer(
    help="The key ceremony: create (operator), deal (trustee), complete, show.",
    no_args_is_help=True,
)
trustee_app.add_typer(ceremony_app, name="ceremony")

TRUSTEE_TYPE = "mvote.trustee.v1"

TrusteeFileOpt = Annotated[
    Path, typer.Option("--trustee", help="Your trustee file (mvote trustee keygen).")
]

# --- the trustee file --------------------------------------------------------------------------


@dataclass
class TrusteeFile:
    """A trustee's file: its public header in clear, its secrets sealed."""

    path: Path
    document: dict[str, Any]

    @property
    def cid(self) -> str:
        return str(self.document["ceremony"])

    @property
    def index(self) -> int:
        return int(self.document["index"])

    @staticmethod
    def load(path: Path) -> TrusteeFile:
        if not path.is_file():
            fail(f"--trustee: no file {path}", hint="make one with `mvote trustee keygen FILE`")
        doc = read_json_file(path, "--trustee")
        if not isinstance(doc, dict) or doc.get("type") != TRUSTEE_TYPE:
            fail(f"--trustee: {path} is not a trustee file ({TRUSTEE_TYPE})", error="MALFORMED")
        return TrusteeFile(path, doc)

    def open(self, secret: str) -> tr.TrusteeSecrets:
        sealed = unseal(self.document, secret, "trustee file")
        trustee = tr.TrusteeSecrets.from_json(encoding.decode(sealed, max_size=1 << 20))
        if (trustee.params.ceremony, trustee.index) != (self.cid, self.index):
            raise WrongPassphrase(
                "ceremony: the clear header does not match the sealed state (altered file)",
                field="ceremony",
            )
        return trustee

    def save(self, trustee: tr.TrusteeSecrets, secret: str, limits: Limits) -> None:
        sealed = seal(encoding.encode(trustee.to_json()), secret, limits)
        params = trustee.params
        self.document.update(
            {
                "type": TRUSTEE_TYPE,
                "channel": params.channel,
                "ceremony": params.ceremony,
                "n": params.n,
                "k": params.k,
                "index": trustee.index,
                "share": trustee.share is not None,
                **sealed,
            }
        )
        write_private(
            self.path, (json.dumps(self.document, indent=2, sort_keys=True) + "\n").encode()
        )

    def limits(self) -> Limits:
        kdf = self.document["kdf"]
        return Limits(kdf["opslimit"], kdf["memlimit"])


def _unlock(path: Path, passphrase_file: Path | None) -> tuple[TrusteeFile, tr.TrusteeSecrets, str]:
    tfile = TrusteeFile.load(path)
    secret = passphrase(passphrase_file, prompt="Trustee passphrase")
    return tfile, tfile.open(secret), secret


def _describe_ceremony(ceremony: Ceremony) -> str:
    lines = [
        f"ceremony {ceremony.cid}: {ceremony.params.k} of {ceremony.params.n} trustees, "
        f"{ceremony.state} (owner {ceremony.owner})",
    ]
    if ceremony.election_key is not None:
        lines.append(f"  election key {ceremony.election_key.hex()}")
    if ceremony.faulty:
        lines.append(f"  faulty dealers: {', '.join(map(str, ceremony.faulty))}")
    lines += [f"  trustee {t.index}: signer {t.signer}" for t in ceremony.trustees]
    return "\n".join(lines)


# --- keygen ------------------------------------------------------------------------------------


@trustee_app.command("keygen")
def keygen(
    path: Annotated[Path, typer.Argument(help="The trustee file to write (secrets sealed).")],
    ceremony: Annotated[str, typer.Option("--ceremony", help="The ceremony id.")],
    trustees: Annotated[int, typer.Option("--trustees", "-n", help="n: number of trustees.")],
    threshold: Annotated[
        int, typer.Option("--threshold", "-k", help="k: trustees needed to decrypt.")
    ],
    index: Annotated[int, typer.Option("--index", help="Your trustee number, 1..n.")],
    registration: Annotated[
        Path | None,
        typer.Option(
            "--registration",
            help="Where to write your public registration (default FILE.registration.json).",
        ),
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="Channel (default: the --network's, else mvote).")
    ] = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    passphrase_file: PassFileOpt = None,
    kdf: KdfOpt = "moderate",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Make a trustee's keys for one ceremony; print (and write) its public registration."""

    def body(out: Output) -> None:
        if path.exists() and not force:
            fail(
                f"{path} exists: a trustee file is never overwritten",
                hint="choose another file or pass --force",
            )
        name = channel
        if name is None:
            name = (
                load_material(network).config.channel
                if (network / "mvote-node.yaml").is_file()
                else "mvote"
            )
        limits = _limits(kdf)
        try:
            trustee = tr.new_trustee(name, ceremony, trustees, threshold, index)
        except ValueError as exc:
            fail(f"--trustees/--threshold/--index: {exc}")
        secret = passphrase(passphrase_file, prompt="New trustee passphrase", confirm=True)
        reg = trustee.registration()
        tfile = TrusteeFile(path, {"registration": reg, "dealing": None})
        tfile.save(trustee, secret, limits)
        target = registration or path.with_suffix(".registration.json")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(reg, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        out.result(
            {
                "file": str(path),
                "registration_file": str(target),
                "ceremony": ceremony,
                "index": index,
                "registration": reg,
            },
            f"trustee {index} of {trustees} (k={threshold}) for ceremony {ceremony}: {path}\n"
            f"registration {target} (public): give it to the operator, who runs\n"
            f"  mvote trustee ceremony create {ceremony} --threshold {threshold} REG1 ... "
            f"REG{trustees}",
        )

    run(as_json, body)


# --- ceremony ----------------------------------------------------------------------------------


@ceremony_app.command("create")
@connected
def ceremony_create(
    cid: Annotated[str, typer.Argument(help="The ceremony id (as given to keygen).")],
    registrations: Annotated[
        list[Path], typer.Argument(help="Every trustee's registration file (any order).")
    ],
    threshold: Annotated[
        int, typer.Option("--threshold", "-k", help="k: trustees needed to decrypt.")
    ],
    trustees: Annotated[
        int | None,
        typer.Option("--trustees", "-n", help="n (default: the number of registrations)."),
    ] = None,
    target: Target = ANYWHERE,
) -> None:
    """Operator: create the ceremony from the n trustees' registrations (state DEALING)."""

    def body(out: Output) -> None:
        regs = [read_json_file(p, "registration") for p in registrations]
        n = trustees if trustees is not None else len(regs)
        if len(regs) != n:
            fail(f"registrations: expected {n}, got {len(regs)}")
        indexes = [r.get("index") if isinstance(r, dict) else None for r in regs]
        if sorted(i for i in indexes if type(i) is int) != list(range(1, n + 1)):
            fail(f"registrations: expected trustees 1..{n} once each, got {indexes}")
        with target.connect("admin") as conn, remote():
            done = conn.contract.create_ceremony(tr.ceremony_spec(cid, n, threshold, regs))
        out.result(
            {
                "ceremony": done.value.to_json(),
                "tx": done.transaction_id,
                "block": done.block_number,
            },
            lambda: (
                f"created ceremony {cid} in block {done.block_number} (tx {done.transaction_id})\n"
                + _describe_ceremony(done.value)
                + "\nnext: each trustee runs mvote trustee ceremony deal --trustee FILE"
            ),
        )

    run(target.as_json, body)


@ceremony_app.command("deal")
@connected
def ceremony_deal(
    trustee_file: TrusteeFileOpt,
    passphrase_file: PassFileOpt = None,
    target: Target = ANYWHERE,
) -> None:
    """Trustee: post your dealing (commitments with proofs, a share encrypted to each other
    trustee). Run again after a failure, it posts the same dealing."""

    def body(out: Output) -> None:
        tfile, trustee, secret = _unlock(trustee_file, passphrase_file)
        with target.trustee() as conn, remote():
            contract = conn.contract
            pending = tfile.document.get("dealing")
            if pending is None:
                posting = recipes.dealing_posting(contract, trustee)
                # Keep the polynomial and the posting before sending: a retry resends them.
                tfile.document["dealing"] = encoding.decode(posting, max_size=1 << 24)
                tfile.save(trustee, secret, tfile.limits())
            else:
                posting = encoding.encode(pending)
            done = contract.post_dealing(posting)
        out.result(
            {
                "dealing": done.value.to_json(),
                "tx": done.transaction_id,
                "block": done.block_number,
            },
            f"trustee {tfile.index} dealt in ceremony {tfile.cid} (block {done.block_number}, "
            f"tx {done.transaction_id})\n"
            f"next, once all {trustee.params.n} have dealt: mvote trustee check --trustee "
            f"{trustee_file}",
        )

    run(target.as_json, body)


@ceremony_app.command("complete")
@connected
def ceremony_complete(
    cid: Annotated[str, typer.Argument(help="The ceremony id.")],
    target: Target = ANYWHERE,
) -> None:
    """Operator (the owning organisation): fix the election key once all have dealt and checked."""

    def body(out: Output) -> None:
        with target.connect("admin") as conn, remote():
            done = conn.contract.complete_ceremony(cid)
        out.result(
            {
                "ceremony": done.value.to_json(),
                "tx": done.transaction_id,
                "block": done.block_number,
            },
            lambda: f"completed in block {done.block_number}\n" + _describe_ceremony(done.value),
        )

    run(target.as_json, body)


@ceremony_app.command("show")
@connected
def ceremony_show(
    cid: Annotated[str, typer.Argument(help="The ceremony id.")],
    target: Target = ANYWHERE,
) -> None:
    """Show a ceremony from the verified chain: k of n, state, election key, trustees, and who
    has dealt and who has checked."""

    def body(out: Output) -> None:
        with target.voter() as conn, remote():
            progress = recipes.ceremony_progress(conn.contract, cid)
        record = progress.ceremony.to_json()
        n = progress.ceremony.params.n
        waiting = [i for i in range(1, n + 1) if i not in progress.dealt]
        unchecked = [i for i in range(1, n + 1) if i not in progress.checked]

        def human() -> str:
            return "\n".join(
                [
                    _describe_ceremony(progress.ceremony),
                    f"  dealt:   {_indexes(progress.dealt)}"
                    + (f"; waiting for {_indexes(waiting)}" if waiting else ""),
                    f"  checked: {_indexes(progress.checked)}"
                    + (f"; waiting for {_indexes(unchecked)}" if unchecked else ""),
                    f"  verified from the genesis hash over {progress.height} blocks",
                ]
            )

        out.result(
            {
                **record,
                "dealt": list(progress.dealt),
                "checked": list(progress.checked),
                "verified_height": progress.height,
            },
            human,
        )

    run(target.as_json, body)


def _indexes(values: Sequence[int]) -> str:
    return ", ".join(map(str, values)) if values else "none"


# --- check -------------------------------------------------------------------------------------


@trustee_app.command("check")
@connected
def check(
    trustee_file: TrusteeFileOpt,
    complete: Annotated[
        bool,
        typer.Option(
            "--complete/--no-complete",
            help="When this is the last check, complete the ceremony (needs the owner's admin).",
        ),
    ] = True,
    passphrase_file: PassFileOpt = None,
    target: Target = ANYWHERE,
) -> None:
    """Trustee: open the shares the other trustees dealt you, check them against their
    commitments, post an acceptance (or complaints naming bad dealers); keep your secret share.
    The last check completes the ceremony (the election key is fixed)."""

    def body(out: Output) -> None:
        tfile, trustee, secret = _unlock(trustee_file, passphrase_file)
        cid, n = tfile.cid, trustee.params.n
        with target.trustee() as conn:
            contract = conn.contract
            posting = _check_posting(contract, trustee)
            tfile.save(trustee, secret, tfile.limits())
            with remote():
                done = contract.post_check(posting)
                faulty = list(done.value.faulty)
                complaints = encoding.decode(posting, max_size=1 << 24)["body"]["complaints"]
                completed: Ceremony | None = None
                # Through a profile there is no institution to complete as: its operator does.
                org = conn.org.msp_id if isinstance(conn, Connection) else None
                if complete and not faulty:
                    progress = recipes.ceremony_progress(contract, cid)
                    if org == progress.ceremony.owner and len(progress.checked) == n:
                        completed = contract.complete_ceremony(cid).value
        blamed = sorted(c["dealer"] for c in complaints)

        def human() -> str:
            lines = [
                f"trustee {tfile.index}: "
                + (
                    "every share received checks out; acceptance posted"
                    if not blamed
                    else f"complaint(s) posted against dealer(s) {', '.join(map(str, blamed))}"
                )
                + f" (block {done.block_number})"
            ]
            if faulty:
                lines.append(f"ceremony {cid} FAILED: dealer(s) {faulty} at fault")
            if completed is not None:
                lines.append(f"all {n} checks in: ceremony complete")
                lines.append(_describe_ceremony(completed))
            elif not faulty:
                lines.append(
                    f"when all {n} checks are in, an admin of the owner completes the "
                    f"ceremony: mvote trustee ceremony complete {cid} (the last check does it "
                    "when run as that organisation)"
                )
            return "\n".join(lines)

        out.result(
            {
                "check": done.value.to_json(),
                "complaints": blamed,
                "tx": done.transaction_id,
                "block": done.block_number,
                "ceremony": None if completed is None else completed.to_json(),
            },
            human,
        )

    run(target.as_json, body)


def _check_posting(contract: VotingContract, trustee: tr.TrusteeSecrets) -> bytes:
    """The trustee's check from the verified chain; its refusals with what to do next."""
    try:
        return recipes.check_posting(contract, trustee)
    except InvalidTransition as exc:
        hint = "each trustee runs `mvote trustee ceremony deal --trustee FILE` first"
        raise Failure(REFUSED, exc.code, exc.message, hint=hint) from None
    except MvoteError as exc:
        raise failure_of(exc, remote=True) from exc


# --- decrypt -----------------------------------------------------------------------------------


def _totals(contract: VotingContract, trustee: tr.TrusteeSecrets, qid: str) -> list[Ciphertext]:
    """The question's totals to decrypt; its refusals with what to do next."""
    try:
        return recipes.decryption_totals(contract, trustee, qid)
    except InvalidField as exc:
        fail(exc.message, error=exc.code)
    except InvalidTransition as exc:
        with remote():
            state = contract.get_question(qid).state
        if state in ("TALLIED", "CANCELLED"):
            # A late trustee: nothing is left to decrypt; sending them to tally would loop.
            hint = f"{qid} is {state}: no decryption is needed any more; `mvote results {qid}` shows the result"
        else:
            hint = f"close and aggregate it: `mvote tally {qid} --close`"
        raise Failure(REFUSED, exc.code, exc.message, hint=hint) from None
    except AggregationIncomplete as exc:
        hint = f"`mvote tally {qid}` aggregates every shard first"
        raise Failure(REFUSED, exc.code, exc.message, hint=hint) from None
    except MvoteError as exc:
        raise failure_of(exc, remote=True) from exc


@trustee_app.command("decrypt")
@connected
def decrypt(
    qid: Annotated[str, typer.Argument(help="The closed, aggregated secret question.")],
    trustee_file: TrusteeFileOpt,
    passphrase_file: PassFileOpt = None,
    target: Target = ANYWHERE,
) -> None:
    """Trustee: post your partial decryptions (with proofs) of a closed question's totals, the
    homomorphic sums of every shard's aggregate. No single ballot is ever decrypted."""

    def body(out: Output) -> None:
        tfile, trustee, _ = _unlock(trustee_file, passphrase_file)
        if trustee.share is None:
            fail(
                f"trustee {tfile.index} holds no secret share of ceremony {tfile.cid!r}",
                hint="run `mvote trustee check --trustee FILE` (the ceremony must complete)",
            )
        with target.trustee() as conn:
            contract = conn.contract
            totals = _totals(contract, trustee, qid)
            with remote():
                done = contract.post_decryption(tr.decryption_posting(trustee, qid, totals))
        out.result(
            {
                "decryption": done.value.to_json(),
                "tx": done.transaction_id,
                "block": done.block_number,
            },
            f"trustee {tfile.index} posted its partial decryptions of {qid}'s "
            f"{len(totals)} totals (block {done.block_number}, tx {done.transaction_id})\n"
            f"once {trustee.params.k} trustees have: mvote tally {qid}",
        )

    run(target.as_json, body)
