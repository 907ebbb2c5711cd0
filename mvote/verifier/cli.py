"""``mvote-verify``: check a chain (or a receipt) offline, from one published value.

Exit codes: 0 verified; 1 a check failed (the report names the block, the transaction and the
check); 2 bad input or usage. Runs on the base install: no node dependencies.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from mvote.chaincode.errors import InvalidField, MvoteError
from mvote.verifier import deliver
from mvote.verifier.audit import audit_chain
from mvote.verifier.block import block_header_hash
from mvote.verifier.chainfile import read_chain
from mvote.verifier.envelope import unpack_block
from mvote.verifier.identity import load_signer
from mvote.verifier.receipt import Receipt, verify_receipt

VERIFIED, FAILED, BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(BAD_INPUT, f"{self.prog}: error: {message}\n")


def _hash_arg(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise argparse.ArgumentTypeError(f"expected 64 hex digits (a SHA-256), got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mvote-verify",
        description="Verify an mvote chain or ballot receipt offline, from the genesis block hash.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    audit = commands.add_parser(
        "audit",
        help="replay and check the whole chain",
        description="Check every block, signature, endorsement policy and validation code from "
        "the genesis hash; re-execute every voting transaction; recount every tally.",
    )
    source = audit.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--chain",
        type=Path,
        help="a chain file (Fabric block file format, as `mvote export` writes) or a folder of *.block files",
    )
    source.add_argument("--node", help="read the chain from a peer's Deliver service (HOST:PORT)")
    _node_options(audit)
    anchor = audit.add_mutually_exclusive_group(required=True)
    anchor.add_argument(
        "--genesis-hash", type=_hash_arg, help="the trust anchor the city publishes (hex)"
    )
    anchor.add_argument(
        "--trust-first-block",
        action="store_true",
        help="take the chain's own block 0 as the anchor (prints its hash; compare it yourself)",
    )
    audit.add_argument("--chaincode", default="mvote", help="the voting chaincode (default mvote)")
    audit.add_argument(
        "--no-replay",
        action="store_true",
        help="check blocks and transactions only (for chains of other chaincodes)",
    )
    audit.add_argument("--json", action="store_true", help="print the report as JSON")

    receipt = commands.add_parser(
        "receipt",
        help="check a ballot receipt",
        description="Check a ballot receipt offline from the genesis hash it names (compare that "
        "hash with the one the city publishes); with --chain, also audit the chain and confirm "
        "the tally counted the ballot.",
    )
    receipt.add_argument("receipt", type=Path, help="the receipt file")
    receipt_source = receipt.add_mutually_exclusive_group()
    receipt_source.add_argument(
        "--chain", type=Path, help="the whole chain, to confirm the ballot was counted"
    )
    receipt_source.add_argument(
        "--node",
        help="read the whole chain from a peer (HOST:PORT), to confirm the ballot was counted",
    )
    _node_options(receipt)
    receipt.add_argument(
        "--genesis-hash",
        type=_hash_arg,
        help="require this trust anchor (the city's published value)",
    )
    receipt.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _node_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reading from a node (--node)")
    group.add_argument(
        "--msp",
        type=Path,
        help="an MSP folder (signcerts/, keystore/) of a channel member: Deliver requires a signed request",
    )
    group.add_argument("--msp-id", help="that identity's MSP id")
    group.add_argument("--channel", default="mvote", help="the channel (default mvote)")
    group.add_argument(
        "--tls-ca",
        type=Path,
        help="the CA certificate of the peer's TLS server (omit for plaintext)",
    )
    group.add_argument(
        "--tls-name", help="the host name in the peer's TLS certificate, if not the address's"
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
    tls = args.tls_ca.read_bytes() if args.tls_ca is not None else None
    channel = deliver.connect(args.node, tls_root_certificates=tls, server_name=args.tls_name)
    try:
        return deliver.fetch_blocks(channel, signer, args.channel)
    finally:
        channel.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "receipt":
        return _receipt(args)
    try:
        blocks = _read_blocks(args) or []
        if args.genesis_hash is not None:
            anchor = args.genesis_hash
        else:
            first = unpack_block(blocks[0])
            anchor = block_header_hash(first.number, first.previous_hash, first.data_hash)
            print(f"trusting block 0 as given: genesis hash {anchor.hex()}", file=sys.stderr)
    except (OSError, MvoteError, IndexError) as exc:
        print(f"mvote-verify: cannot read {args.chain or args.node}: {exc}", file=sys.stderr)
        return BAD_INPUT

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
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _print_human(report.to_json())
    return VERIFIED if report.verified else FAILED


def _receipt(args: argparse.Namespace) -> int:
    try:
        receipt = Receipt.from_bytes(args.receipt.read_bytes())
        chain = _read_blocks(args)
    except (OSError, MvoteError) as exc:
        print(f"mvote-verify: cannot read the receipt or chain: {exc}", file=sys.stderr)
        return BAD_INPUT
    if args.genesis_hash is not None and args.genesis_hash.hex() != receipt.genesis_hash:
        print(
            f"FAILED genesis_hash: the receipt names {receipt.genesis_hash}, "
            f"expected {args.genesis_hash.hex()}"
        )
        return FAILED
    report = verify_receipt(receipt, chain)
    if args.json:
        print(
            json.dumps(
                {
                    "verified": report.verified,
                    "tx_id": receipt.tx_id,
                    "block": receipt.block,
                    "tx_index": receipt.tx_index,
                    "tracker": receipt.tracker,
                    "tallied": report.tallied,
                    "checks": [
                        {"check": c.name, "ok": c.ok, "message": c.message} for c in report.checks
                    ],
                },
                indent=2,
            )
        )
    else:
        print(f"receipt: question {receipt.qid}, tracker {receipt.tracker}")
        print(f"transaction {receipt.tx_id} in block {receipt.block} (index {receipt.tx_index})")
        for c in report.checks:
            print(f"{'ok    ' if c.ok else 'FAILED'} {c.name}: {c.message}")
        if report.tallied is False:
            print("the question has no tally yet: check again after it is tallied")
        print("VERIFIED" if report.verified else "NOT VERIFIED")
    return VERIFIED if report.verified else FAILED


def _print_human(report: dict[str, object]) -> None:
    findings = report["findings"]
    assert isinstance(findings, list)
    print(f"chain: {report['blocks']} blocks, {report['transactions']} transactions")
    print(f"genesis hash: {report['genesis_hash']}")
    invalid = report["invalid_transactions"]
    assert isinstance(invalid, list)
    print(f"invalid transactions (recorded and recomputed alike): {len(invalid)}")
    if report["replayed"] is not None:
        not_replayed = report["not_replayed"]
        assert isinstance(not_replayed, list)
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
    print("VERIFIED" if report["verified"] else f"NOT VERIFIED: {len(findings)} findings")


def entry() -> NoReturn:
    """Console-script entry point: exit with :func:`main`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
