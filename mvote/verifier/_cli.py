"""``mvote-verify``: check a chain (or a receipt) offline, from one published value.

The trust anchor is the genesis block hash the city publishes: ``--genesis-hash HEX``, or
``--profile FILE`` (a connection profile: a JSON object with ``genesis_hash``), or the
environment variable ``MVOTE_GENESIS_HASH``, in that order. Never the hash a receipt or a chain
names for itself: without an anchor, a receipt of any network would pass.

Exit codes: 0 verified; 1 a check failed (the report names the block, the transaction and the
check); 2 bad input or usage. With ``--json`` every outcome is one JSON object on stdout.
Runs on the base install: no node dependencies.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from mvote import __version__
from mvote.chaincode import encoding
from mvote.chaincode._errors import InvalidField, MvoteError
from mvote.chaincode._records import HASH_HEX
from mvote.verifier import _deliver as deliver
from mvote.verifier._audit import audit_chain
from mvote.verifier._block import block_header_hash
from mvote.verifier._chainfile import read_chain
from mvote.verifier._envelope import unpack_block
from mvote.verifier._errors import BadAnchor
from mvote.verifier._identity import load_signer
from mvote.verifier._receipt import Receipt, ReceiptReport, verify_receipt
from mvote.verifier._spoiled import verify_spoiled

VERIFIED, FAILED, BAD_INPUT = 0, 1, 2
ENV_ANCHOR = "MVOTE_GENESIS_HASH"
MAX_PROFILE_BYTES = 1 << 20
#: The --json option's help, as ``mvote`` words it.
JSON_HELP = "Print the result as JSON on stdout."
NO_ANCHOR = (
    "no trust anchor: pass --genesis-hash HEX (the genesis block hash the city publishes), "
    f"--profile FILE (a connection profile naming genesis_hash), or set ${ENV_ANCHOR}; the "
    "genesis hash a receipt or a chain names for itself is not an anchor"
)


class _Parser(argparse.ArgumentParser):
    #: Print usage errors as JSON (the command line holds --json).
    json_errors: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # mvote's help option: --help (and -h), "Show this message and exit."
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self.add_argument("-h", "--help", action="help", help="Show this message and exit.")

    def error(self, message: str) -> NoReturn:
        hint = f"`{self.prog} --help` lists the options"
        if self.json_errors:
            _print_json(_error_json("USAGE", f"{self.prog}: {message}", hint))
            self.exit(BAD_INPUT)
        self.print_usage(sys.stderr)
        _print_error("USAGE", f"{self.prog}: {message}", hint)
        self.exit(BAD_INPUT)


class _JsonParser(_Parser):
    json_errors = True


def _hash_arg(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise argparse.ArgumentTypeError(f"expected 64 hex digits (a SHA-256), got {text!r}")
    return value


def _anchor_hex(text: str, where: str) -> bytes:
    """A genesis hash as given in ``where`` (a flag, a profile, the environment)."""
    try:
        return bytes.fromhex(HASH_HEX.check(text.strip().lower(), where))
    except InvalidField as exc:
        raise BadAnchor(exc.message, field=where) from exc


def _profile_anchor(path: Path) -> bytes:
    """The ``genesis_hash`` of a connection profile (a JSON object). Raises OSError, BadAnchor."""
    with path.open("rb") as f:
        data = f.read(MAX_PROFILE_BYTES + 1)
    try:
        profile = json.loads(data) if len(data) <= MAX_PROFILE_BYTES else None
    except ValueError as exc:
        raise BadAnchor(f"{path}: expected a JSON object, got {exc}", field=str(path)) from exc
    if not isinstance(profile, dict) or "genesis_hash" not in profile:
        raise BadAnchor(
            f"{path}: expected a JSON object (at most {MAX_PROFILE_BYTES} bytes) with genesis_hash",
            field=str(path),
        )
    return _anchor_hex(profile["genesis_hash"], f"{path}: genesis_hash")


def _anchor(args: argparse.Namespace) -> bytes | None:
    """The trust anchor: --genesis-hash, else --profile, else $MVOTE_GENESIS_HASH; None if
    none is given, or if --trust-first-block says to take the chain's own. Raises OSError (the
    profile) or BadAnchor."""
    if getattr(args, "trust_first_block", False):
        return None
    if args.genesis_hash is not None:
        return _anchor_hex(args.genesis_hash, "--genesis-hash")
    if args.profile is not None:
        return _profile_anchor(args.profile)
    env = os.environ.get(ENV_ANCHOR)
    if env:
        return _anchor_hex(env, f"${ENV_ANCHOR}")
    return None


def _describe(exc: Exception) -> tuple[str, str]:
    """(message, code) of an error that stops a check before it starts (an OSError: its
    reason; the caller names the file)."""
    if isinstance(exc, MvoteError):
        return exc.message, exc.code
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror, "UNREADABLE"
    return str(exc), "BAD_INPUT"


def _error_json(code: str, message: str, hint: str | None = None) -> dict[str, object]:
    """An exit-2 outcome as ``mvote --json`` prints its errors (plus ``verified``)."""
    return {
        "ok": False,
        "verified": False,
        "exit_code": BAD_INPUT,
        "error": {"code": code, "message": message, "field": None, "hint": hint},
    }


def _print_error(code: str, message: str, hint: str | None) -> None:
    """An exit-2 outcome as ``mvote`` prints its errors: ``error: CODE: message`` on stderr,
    then what to do."""
    print(f"error: {code}: {message}", file=sys.stderr)
    if hint:
        print(f"  what to do: {hint}", file=sys.stderr)


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2))


#: What to do next, by error code (as ``mvote`` says it).
HINTS: dict[str, str] = {
    "DELIVER_FAILED": "is the node running? check --node, --tls-ca and --msp",
}


def _bad_input(args: argparse.Namespace, message: str, code: str = "BAD_INPUT") -> int:
    """Report input that cannot be checked (exit 2) as ``mvote`` reports its errors: JSON with
    --json, else ``error: CODE: message`` and what to do on stderr."""
    hint = HINTS.get(code)
    if args.json:
        _print_json(_error_json(code, message, hint))
    else:
        _print_error(code, f"mvote-verify {args.command}: {message}", hint)
    return BAD_INPUT


def _parser(json_errors: bool = False) -> argparse.ArgumentParser:
    """The argument parser; ``json_errors``: usage errors too are printed as JSON."""
    kind = _JsonParser if json_errors else _Parser
    parser = kind(
        prog="mvote-verify",
        description="Verify an mvote chain or ballot receipt offline, from the genesis block hash. "
        "Exit codes: 0 verified, 1 a check failed, 2 bad input or usage.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"mvote-verify {__version__}",
        help="Show mvote-verify's version and exit.",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=kind, metavar="COMMAND"
    )
    audit = commands.add_parser(
        "audit",
        help="Replay and check the whole chain.",
        description="Check every block, signature, endorsement policy and validation code from "
        "the genesis hash; re-execute every voting transaction; recount every tally.",
    )
    source = audit.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--chain",
        type=Path,
        metavar="FILE",
        help="A chain file (Fabric block file format, as `mvote export` writes) or a folder of "
        "*.block files.",
    )
    source.add_argument(
        "--node", metavar="HOST:PORT", help="Read the chain from a peer's Deliver service."
    )
    _node_options(audit)
    anchor = _anchor_options(audit)
    anchor.add_argument(
        "--trust-first-block",
        action="store_true",
        help="Take the chain's own block 0 as the anchor (prints its hash; compare it yourself).",
    )
    audit.add_argument(
        "--expect-height",
        type=int,
        metavar="N",
        help="The chain's height (blocks 0..N-1) published elsewhere: fewer blocks (a withheld "
        "tail) or more fail.",
    )
    audit.add_argument(
        "--expect-last-hash",
        type=_hash_arg,
        metavar="HEX",
        help="The last block's header hash published elsewhere (a peer reports it as the "
        "current block hash).",
    )
    audit.add_argument(
        "--chaincode", default="mvote", metavar="NAME", help="The voting chaincode (default mvote)."
    )
    audit.add_argument(
        "--no-replay",
        action="store_true",
        help="Check blocks and transactions only (for chains of other chaincodes).",
    )
    audit.add_argument("--json", action="store_true", help=JSON_HELP)

    receipt = commands.add_parser(
        "receipt",
        help="Check a ballot receipt.",
        description="Check a ballot receipt offline from the trust anchor (the genesis hash the "
        f"city publishes: --genesis-hash, --profile or ${ENV_ANCHOR}); with --chain, also audit "
        "the chain and confirm the tally counted the ballot. Offline, the ballot's validity rests "
        "on the code its issuing peer recorded (except a conflict inside its own block, which is "
        "recomputed); --chain proves it.",
    )
    receipt.add_argument("receipt", type=Path, metavar="FILE", help="The receipt file.")
    receipt_source = receipt.add_mutually_exclusive_group()
    receipt_source.add_argument(
        "--chain",
        type=Path,
        metavar="FILE",
        help="The whole chain, to confirm the ballot was counted.",
    )
    receipt_source.add_argument(
        "--node",
        metavar="HOST:PORT",
        help="Read the whole chain from a peer, to confirm the ballot was counted.",
    )
    _node_options(receipt)
    _anchor_options(receipt)
    receipt.add_argument("--json", action="store_true", help=JSON_HELP)

    spoiled = commands.add_parser(
        "spoiled",
        help="Open an audited (spoiled) secret ballot.",
        description="Check a spoiled-ballot file (written by `mvote vote` when you audit a "
        "secret ballot) from the trust anchor alone, open the ballot with its published nonce "
        "key, and show the choices it encrypts by their labels: they must be the ones you chose.",
    )
    spoiled.add_argument("spoiled", type=Path, metavar="FILE", help="The spoiled-ballot file.")
    _anchor_options(spoiled)
    spoiled.add_argument("--json", action="store_true", help=JSON_HELP)
    return parser


def _anchor_options(parser: argparse.ArgumentParser) -> argparse._MutuallyExclusiveGroup:
    anchor = parser.add_mutually_exclusive_group()
    anchor.add_argument(
        "--genesis-hash",
        metavar="HEX",
        help=f"The trust anchor the city publishes (else --profile, else ${ENV_ANCHOR}).",
    )
    anchor.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="A connection profile: a JSON object whose genesis_hash is the trust anchor.",
    )
    return anchor


def _node_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reading from a node (--node)")
    group.add_argument(
        "--msp",
        type=Path,
        metavar="DIR",
        help="An MSP folder (signcerts/, keystore/) of a channel member: Deliver requires a "
        "signed request.",
    )
    group.add_argument("--msp-id", metavar="ID", help="That identity's MSP id.")
    group.add_argument(
        "--channel", default="mvote", metavar="NAME", help="The channel (default mvote)."
    )
    group.add_argument(
        "--tls-ca",
        type=Path,
        metavar="FILE",
        help="The CA certificate of the peer's TLS server (omit for plaintext).",
    )
    group.add_argument(
        "--tls-name",
        metavar="NAME",
        help="The host name in the peer's TLS certificate, if not the address's.",
    )


def _read_blocks(args: argparse.Namespace) -> list[bytes] | None:
    """The chain named by --chain or --node (None if neither). Raises OSError or MvoteError."""
    if args.chain is not None:
        return read_chain(args.chain)
    if args.node is None:
        return None
    if args.msp is None or args.msp_id is None:
        raise InvalidField(
            "--node needs --msp and --msp-id (Deliver requires a signed request)", field="msp"
        )
    signer = load_signer(args.msp, args.msp_id)
    tls = None
    if args.tls_ca is not None:
        try:
            tls = args.tls_ca.read_bytes()
        except OSError as exc:
            raise InvalidField(
                f"--tls-ca: cannot read {args.tls_ca}: {exc.strerror}", field="tls_ca"
            ) from exc
    channel = deliver.connect(args.node, tls_root_certificates=tls, server_name=args.tls_name)
    try:
        return deliver.fetch_blocks(channel, signer, args.channel)
    finally:
        channel.close()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser(json_errors="--json" in argv).parse_args(argv)
    try:
        anchor = _anchor(args)
    except OSError as exc:
        message, code = _describe(exc)
        return _bad_input(args, f"cannot read the profile {args.profile}: {message}", code)
    except MvoteError as exc:
        return _bad_input(args, *_describe(exc))
    if anchor is None and not getattr(args, "trust_first_block", False):
        return _bad_input(args, NO_ANCHOR, BadAnchor.code)
    if args.command in ("receipt", "spoiled"):
        if anchor is None:  # receipts take no --trust-first-block
            return _bad_input(args, NO_ANCHOR, BadAnchor.code)
        return _receipt(args, anchor) if args.command == "receipt" else _spoiled(args, anchor)
    return _audit(args, anchor)


def _audit(args: argparse.Namespace, anchor: bytes | None) -> int:
    """Audit the chain; ``anchor`` None: trust its block 0 (--trust-first-block)."""
    try:
        blocks = _read_blocks(args) or []
        if anchor is None:
            first = unpack_block(blocks[0])
            anchor = block_header_hash(first.number, first.previous_hash, first.data_hash)
            print(f"trusting block 0 as given: genesis hash {anchor.hex()}", file=sys.stderr)
    except (OSError, MvoteError, IndexError) as exc:
        message, code = _describe(exc)
        return _bad_input(args, f"cannot read {args.chain or args.node}: {message}", code)

    def progress(stage: str, done: int, total: int) -> None:
        if not args.json and sys.stderr.isatty() and (done == total or done % 100 == 0):
            print(
                f"\r{stage}: block {done}/{total}",
                end="\n" if done == total else "",
                file=sys.stderr,
            )

    report = audit_chain(
        blocks, anchor, chaincode=args.chaincode, replay=not args.no_replay, progress=progress
    )
    report.expect(height=args.expect_height, last_hash=args.expect_last_hash)
    if args.json:
        _print_json(report.to_json())
    else:
        _print_human(report.to_json())
    return VERIFIED if report.verified else FAILED


def read_receipt_file(path: Path) -> Receipt:
    """A receipt (or spoiled-ballot) file; one trailing newline, as editors add, is accepted.
    Raises OSError, MvoteError naming the field."""
    return Receipt.from_bytes(encoding.file_bytes(path.read_bytes()))


def _spoiled(args: argparse.Namespace, anchor: bytes) -> int:
    try:
        receipt = read_receipt_file(args.spoiled)
    except (OSError, MvoteError) as exc:
        message, code = _describe(exc)
        return _bad_input(args, f"cannot read {args.spoiled}: {message}", code)
    report = verify_spoiled(receipt, anchor=anchor)
    if args.json:
        _print_json(_receipt_json(receipt, report))
    else:
        print(f"spoiled ballot: question {receipt.qid}, tracker {receipt.tracker}")
        print(f"transaction {receipt.tx_id} in block {receipt.block} (index {receipt.tx_index})")
        _print_checks(report)
        _print_recorded(report)
        print(
            "VERIFIED: this ballot was spoiled, never cast" if report.verified else "NOT VERIFIED"
        )
    return VERIFIED if report.verified else FAILED


def _receipt(args: argparse.Namespace, anchor: bytes) -> int:
    try:
        receipt = read_receipt_file(args.receipt)
    except (OSError, MvoteError) as exc:
        message, code = _describe(exc)
        return _bad_input(args, f"cannot read the receipt {args.receipt}: {message}", code)
    try:
        chain = _read_blocks(args)
    except (OSError, MvoteError) as exc:
        message, code = _describe(exc)
        return _bad_input(args, f"cannot read {args.chain or args.node}: {message}", code)
    report = verify_receipt(receipt, chain, anchor=anchor)
    if args.json:
        _print_json(_receipt_json(receipt, report))
    else:
        _print_receipt(receipt, report)
    return VERIFIED if report.verified else FAILED


def _receipt_json(receipt: Receipt, report: ReceiptReport) -> dict[str, object]:
    return {
        "verified": report.verified,
        "verdict": report.verdict,
        "offline": not report.with_chain,
        "not_proven": report.not_proven,
        "tx_id": receipt.tx_id,
        "block": receipt.block,
        "tx_index": receipt.tx_index,
        "tracker": receipt.tracker,
        "tallied": report.tallied,
        "recorded": None if report.recorded is None else report.recorded.to_json(),
        "checks": [{"check": c.name, "ok": c.ok, "message": c.message} for c in report.checks],
    }


def _print_checks(report: ReceiptReport) -> None:
    for c in report.checks:
        print(f"{'ok    ' if c.ok else 'FAILED'} {c.name}: {c.message}")


def _print_recorded(report: ReceiptReport) -> None:
    if report.recorded is not None:
        print("what the ledger holds:")
        for line in report.recorded.lines():
            print(f"  {line}")


def _print_receipt(receipt: Receipt, report: ReceiptReport) -> None:
    print(f"receipt: question {receipt.qid}, tracker {receipt.tracker}")
    print(f"transaction {receipt.tx_id} in block {receipt.block} (index {receipt.tx_index})")
    _print_checks(report)
    _print_recorded(report)
    if report.tallied is False:
        print("the question has no tally yet: check again after it is tallied")
    for limit in report.not_proven:
        print(f"not proven offline: {limit}")
    print(report.verdict)


def _listed(report: dict[str, object], name: str) -> list[Any]:
    """``report[name]``, a list in every report :meth:`AuditReport.to_json` makes."""
    value = report[name]
    if not isinstance(value, list):
        raise TypeError(f"audit report {name}: expected a list, got {type(value).__name__}")
    return value


def _print_human(report: dict[str, object]) -> None:
    findings = _listed(report, "findings")
    print(f"chain: {report['blocks']} blocks, {report['transactions']} transactions")
    print(f"genesis hash: {report['genesis_hash']}")
    print(
        f"height: {report['blocks']}; last block hash: {report['last_block_hash']} "
        "(compare both with the values published elsewhere: a withheld tail shows only there)"
    )
    if report["orderers_copy"]:
        print(
            "an orderer's copy: no block carries a peer's validation codes or commit hash; "
            "every validation code was recomputed from the chain"
        )
    invalid = _listed(report, "invalid_transactions")
    print(f"invalid transactions (recorded and recomputed alike): {len(invalid)}")
    if report["replayed"] is not None:
        not_replayed = _listed(report, "not_replayed")
        print(
            f"replayed: {report['replayed']} transactions; tallies recounted: "
            f"{report['tallies_recounted']}; not replayed: {len(not_replayed)}"
        )
        for item in not_replayed:
            print(
                f"  block {item['block']} tx {item['tx_index']}: {item['chaincode']}: {item['reason']}"
            )
    for f in findings:
        where = f"block {f['block']}" + (
            f" tx {f['tx_index']} ({f['tx_id']})" if f["tx_index"] is not None else ""
        )
        print(f"FAILED {where}: {f['check']}: {f['message']}")
    print(report["verdict"])


def entry() -> NoReturn:
    """Console-script entry point: exit with :func:`main`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
