"""No bytes make the verifier raise, and each one it refuses it refuses by name.

A chain made by a real embedded node (question, ballot, receipt); then every bit of a creator, an
endorser and an orderer certificate is flipped, and every byte of the ballot block's metadata
changed, and each mutation goes through ``validate_transaction``, the chain audit and the receipt
check. The mutated transaction is re-signed with the genuine client key and its block re-hashed
and re-signed with the genuine orderer key (a lying client and a lying orderer), so every check
after the certificate's is reached. Expected: zero exceptions and zero ``verifier_error`` (the
last-resort guard must never be what catches these), every mutation refused by a named check.

A flipped X.509 version byte once raised ``x509.InvalidVersion``, and a flipped subject tag a
``TypeError``, through all three (and stopped the node, see tests/integration).
"""

from __future__ import annotations

import dataclasses
import json
import ssl
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fabric_protos.common import common_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import transaction_pb2
from nodechain import cast_args, running_chain

from mvote.chaincode import encoding
from mvote.chaincode._records import (
    ballot_from_json,
)
from mvote.client._identity import Identity, Signer
from mvote.client._proposal import sign_envelope
from mvote.client._receipt import issue_receipt
from mvote.node.config import BatchSettings
from mvote.node.orderer import sign_block
from mvote.verifier import _chain as chain_module
from mvote.verifier import _cli as cli
from mvote.verifier import _transaction as transaction
from mvote.verifier._audit import audit_chain
from mvote.verifier._block import block_data_hash, block_header_hash
from mvote.verifier._chain import CHECKS
from mvote.verifier._chainfile import write_chain
from mvote.verifier._checks import REPLAY_CHECKS
from mvote.verifier._commithash import commit_hash
from mvote.verifier._config import channel_config_from_block
from mvote.verifier._envelope import unpack_block
from mvote.verifier._mvcc import BlockUpdates, MemoryWorldState
from mvote.verifier._receipt import Receipt, verify_receipt
from mvote.verifier._transaction import ParsedTransaction
from mvote.verifier._validation import (
    BAD_CREATOR_SIGNATURE,
    ENDORSEMENT_POLICY_FAILURE,
    INVALID_OTHER_REASON,
    VERIFIER_ERROR,
    BlockContext,
    TxVerdict,
    validate_block_transactions,
    validate_transaction,
)

#: cryptography warns about some malformed certificates it still parses: expected here.
pytestmark = pytest.mark.filterwarnings(
    "ignore::UserWarning", "ignore::cryptography.utils.CryptographyDeprecationWarning"
)

ORGS = "cityhall,district,education"
NAMED = set(CHECKS) | set(REPLAY_CHECKS)
#: The height of the ballot's block in the sample chain.
BALLOT_BLOCK = 2
MVCC_READ_CONFLICT = 11


@dataclass(frozen=True)
class Sample:
    """A ballot's block at height 2 of a node-made chain, as the audit and a receipt see it.

    The node committed the ballot at height 4 (after the question's creation and opening); here
    its block follows the chaincode definition directly (re-linked and re-signed with the
    orderer's key), so each audit walks three blocks, not five: what differs from one mutation to
    the next is that block alone. Its ballot then reads a question the chain does not hold, an
    MVCC conflict: the audit's copy records that code (and the commit hash that follows from it),
    the receipt's copy records VALID (a receipt is checked without MVCC). Both verify.
    """

    #: Blocks 0 and 1 of the chain, then the ballot's block as the audit sees it.
    blocks: list[bytes]
    genesis_hash: bytes
    receipt: Receipt
    #: The creator of every transaction here (the first organisation's admin).
    client: Signer
    orderer: Signer
    #: The state and tx ids committed before the ballot's block.
    context: BlockContext

    @property
    def ballot_tx(self) -> bytes:
        return unpack_block(self.blocks[BALLOT_BLOCK]).data[self.receipt.tx_index]


def _node_chain(directory: Path) -> tuple[list[bytes], Receipt, bytes, Signer, Signer]:
    """A real node's chain up to a ballot, its receipt, the genesis hash, the admin, the orderer."""
    with running_chain(directory, BatchSettings(timeout_ms=20), options=("a", "b")) as chain:
        args = cast_args(chain, 1, 0)
        request = encoding.decode(args[1], max_size=1 << 16)  # type: ignore[arg-type]
        tx_id, number = chain.submit_tx(*args)
        receipt = issue_receipt(
            chain.node.ledger.block,
            tx_id=tx_id,
            block_number=number,
            qid="q1",
            tracker=ballot_from_json(request["ballot"]).tracker(),
        )
        return chain.blocks(), receipt, chain.genesis_hash, chain.admin, chain.orderer()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    blocks, receipt, genesis_hash, client, orderer = _node_chain(
        tmp_path_factory.mktemp("untrusted") / "net"
    )
    moved = common_pb2.Block.FromString(blocks[receipt.block])
    moved.header.number = BALLOT_BLOCK
    moved.header.previous_hash = block_header_hash(*_header(blocks[1]))
    sign_block(moved, orderer)
    audit_copy = with_codes(bytes(moved.SerializeToString()), blocks[1], MVCC_READ_CONFLICT)
    chain = [*blocks[:2], audit_copy]
    receipt = dataclasses.replace(
        receipt, block=BALLOT_BLOCK, proof={0: blocks[0], 1: blocks[1], BALLOT_BLOCK: audit_copy}
    )
    config = channel_config_from_block(blocks[0])
    state, tx_ids = MemoryWorldState(), set()
    ctx = BlockContext(config, state, tx_ids.__contains__)
    verdicts, updates = validate_block_transactions(ctx, 1, unpack_block(blocks[1]).data)
    assert [v.code for v in verdicts] == [0]
    state.apply(updates)
    tx_ids.update(v.tx_id for v in verdicts)
    result = Sample(chain, genesis_hash, receipt, client, orderer, ctx)
    # Both copies verify: every finding and failed check below is the mutation's.
    assert audit_chain(chain, genesis_hash, workers=1).findings == []
    assert verify_receipt(receipt_of(result, audit_copy), anchor=genesis_hash).verified
    return result


# --- mutations ----------------------------------------------------------------------------------


def _header(raw_block: bytes) -> tuple[int, bytes, bytes]:
    view = unpack_block(raw_block)
    return view.number, view.previous_hash, view.data_hash


def bit_flips(certificate_pem: bytes) -> Iterator[bytes]:
    """The certificate with each one of its DER bits flipped in turn, as PEM (as Fabric carries it)."""
    der = x509.load_pem_x509_certificate(certificate_pem).public_bytes(Encoding.DER)
    for bit in range(len(der) * 8):
        mutated = bytearray(der)
        mutated[bit // 8] ^= 1 << (bit % 8)
        yield ssl.DER_cert_to_PEM_cert(bytes(mutated)).encode()


def _serialized(msp_id: str, pem: bytes) -> bytes:
    return bytes(identities_pb2.SerializedIdentity(mspid=msp_id, id_bytes=pem).SerializeToString())


def with_creator(raw_tx: bytes, creator: bytes, signer: Signer) -> bytes:
    """The transaction with another creator in its header, re-signed by ``signer``."""
    payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(raw_tx).payload)
    header = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
    header.creator = creator
    payload.header.signature_header = header.SerializeToString()
    return bytes(sign_envelope(payload.SerializeToString(), signer).SerializeToString())


def with_endorser(raw_tx: bytes, endorser: bytes, signer: Signer) -> bytes:
    """The transaction with its first endorsement naming another endorser, re-signed."""
    payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(raw_tx).payload)
    tx = transaction_pb2.Transaction.FromString(payload.data)
    cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    cap.action.endorsements[0].endorser = endorser
    tx.actions[0].payload = cap.SerializeToString()
    payload.data = tx.SerializeToString()
    return bytes(sign_envelope(payload.SerializeToString(), signer).SerializeToString())


def reblocked(raw_block: bytes, index: int, raw_tx: bytes, orderer: Signer) -> bytes:
    """The block with transaction ``index`` replaced, re-hashed and re-signed by ``orderer``
    (its recorded validation codes and commit hash kept)."""
    block = common_pb2.Block.FromString(raw_block)
    block.data.data[index] = raw_tx
    block.header.data_hash = block_data_hash(list(block.data.data))
    sign_block(block, orderer)
    return bytes(block.SerializeToString())


def with_codes(raw_block: bytes, previous_block: bytes, code: int) -> bytes:
    """The block with one recorded validation code for its one transaction, and the commit hash
    that follows from it (an invalid transaction writes nothing)."""
    block = common_pb2.Block.FromString(raw_block)
    codes = bytes([code])
    previous = common_pb2.Metadata.FromString(
        common_pb2.Block.FromString(previous_block).metadata.metadata[common_pb2.COMMIT_HASH]
    ).value
    block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER] = codes
    block.metadata.metadata[common_pb2.COMMIT_HASH] = common_pb2.Metadata(
        value=commit_hash(codes, BlockUpdates(), previous)
    ).SerializeToString()
    return bytes(block.SerializeToString())


def receipt_of(sample: Sample, raw_block: bytes) -> Receipt:
    """The receipt with the ballot's block replaced by ``raw_block`` recorded VALID."""
    block = common_pb2.Block.FromString(raw_block)
    block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER] = b"\x00"
    proof = {**sample.receipt.proof, BALLOT_BLOCK: bytes(block.SerializeToString())}
    return dataclasses.replace(sample.receipt, proof=proof)


def chain_with(sample: Sample, raw_block: bytes) -> list[bytes]:
    return [*sample.blocks[:BALLOT_BLOCK], raw_block]


# --- the three checks ---------------------------------------------------------------------------


@dataclass
class Tally:
    """What the sweep saw: mutations, and the names of the checks that refused them."""

    mutations: int = 0
    refused_by: Counter[str] = dataclasses.field(default_factory=Counter)

    def __str__(self) -> str:
        return f"{self.mutations} mutations, refused by {dict(self.refused_by.most_common())}"


def check_transaction(
    sample: Sample, raw_tx: bytes, code: int, expected: set[str], tally: Tally
) -> TxVerdict:
    """The transaction gets ``code``, its first reason one of ``expected`` checks."""
    verdict = validate_transaction(sample.context, sample.receipt.tx_index, raw_tx)
    checks = [r.check for r in verdict.reasons]
    assert verdict.code == code, (verdict.code, verdict.reasons)
    assert checks and checks[0] in expected and VERIFIER_ERROR not in checks, verdict.reasons
    tally.refused_by[f"tx:{checks[0]}"] += 1
    return verdict


def check_audit(sample: Sample, blocks: list[bytes], expected: set[str], tally: Tally) -> None:
    """The audit fails, naming the ballot's block and one of ``expected`` checks, and nothing
    but named checks."""
    report = audit_chain(blocks, sample.genesis_hash, workers=1)
    findings = report.findings
    assert not report.verified
    assert all(f.check in NAMED and f.check != VERIFIER_ERROR for f in findings), [
        str(f) for f in findings
    ]
    assert {f.block for f in findings} == {BALLOT_BLOCK}, [str(f) for f in findings]
    named = [f.check for f in findings if f.check in expected]
    assert named, [str(f) for f in findings]
    tally.refused_by[f"audit:{named[0]}"] += 1
    assert report.to_json()["verified"] is False  # the --json report still renders


def check_receipt(receipt: Receipt, anchor: bytes, expected: set[str], tally: Tally) -> None:
    """The receipt fails one of ``expected`` checks, and none but named ones."""
    report = verify_receipt(receipt, anchor=anchor)
    failed = [c.name for c in report.checks if not c.ok]
    assert failed and set(failed) <= expected, report.checks
    tally.refused_by[f"receipt:{failed[0]}"] += 1


def sweep(
    sample: Sample,
    mutants: Iterator[bytes],
    mutate: Callable[[bytes], tuple[bytes | None, bytes]],
    code: int | None,
    expected: set[str],
) -> Tally:
    """Each mutant through the three checks. ``mutate`` gives the mutated transaction (None if
    none changed) and the mutated ballot block (the audit's copy); ``code`` is the validation
    code the transaction must get, ``expected`` the checks that may name the failure."""
    tally = Tally()
    for mutant in mutants:
        tally.mutations += 1
        raw_tx, raw_block = mutate(mutant)
        if raw_tx is not None and code is not None:
            check_transaction(sample, raw_tx, code, expected, tally)
        check_audit(sample, chain_with(sample, raw_block), expected, tally)
        # The receipt's "transaction" check carries the transaction's reasons in its message.
        check_receipt(
            receipt_of(sample, raw_block), sample.genesis_hash, expected | {"transaction"}, tally
        )
    return tally


def _certificate_of(serialized: bytes) -> tuple[str, bytes]:
    sid = identities_pb2.SerializedIdentity.FromString(serialized)
    return str(sid.mspid), bytes(sid.id_bytes)


def _timed(name: str, run: Callable[[], Tally]) -> Tally:
    started = time.perf_counter()
    tally = run()
    print(f"{name}: {tally} in {time.perf_counter() - started:.1f} s")
    return tally


# --- the sweeps ---------------------------------------------------------------------------------

CREATOR_CHECKS = {"creator_identity", "creator_signature"}
ENDORSER_CHECKS = {"endorsement_identity", "endorsement_signature", "endorsement_policy"}
ORDERER_CHECKS = {"orderer_signature", "block_validation_policy"}


def _der_bits(pem: bytes) -> int:
    return len(x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)) * 8


def test_every_bit_of_the_creator_certificate(sample: Sample) -> None:
    raw_tx, index = sample.ballot_tx, sample.receipt.tx_index
    msp_id, pem = _certificate_of(ParsedTransaction.parse(raw_tx).creator)

    def mutate(mutant: bytes) -> tuple[bytes | None, bytes]:
        tx = with_creator(raw_tx, _serialized(msp_id, mutant), sample.client)
        return tx, reblocked(sample.blocks[BALLOT_BLOCK], index, tx, sample.orderer)

    tally = _timed(
        "creator",
        lambda: sweep(sample, bit_flips(pem), mutate, BAD_CREATOR_SIGNATURE, CREATOR_CHECKS),
    )
    assert tally.mutations == _der_bits(pem)


def test_every_bit_of_an_endorser_certificate(sample: Sample) -> None:
    raw_tx, index = sample.ballot_tx, sample.receipt.tx_index
    payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(raw_tx).payload)
    tx = transaction_pb2.Transaction.FromString(payload.data)
    cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    # The policy is MAJORITY of three organisations: the ballot carries two endorsements, so
    # losing one to a bad certificate fails the policy.
    assert len(cap.action.endorsements) == 2
    msp_id, pem = _certificate_of(cap.action.endorsements[0].endorser)

    def mutate(mutant: bytes) -> tuple[bytes | None, bytes]:
        tx = with_endorser(raw_tx, _serialized(msp_id, mutant), sample.client)
        return tx, reblocked(sample.blocks[BALLOT_BLOCK], index, tx, sample.orderer)

    tally = _timed(
        "endorser",
        lambda: sweep(sample, bit_flips(pem), mutate, ENDORSEMENT_POLICY_FAILURE, ENDORSER_CHECKS),
    )
    assert tally.mutations == _der_bits(pem)


def test_every_bit_of_the_orderer_certificate(sample: Sample) -> None:
    original = sample.blocks[BALLOT_BLOCK]
    key, identity = sample.orderer.private_key, sample.orderer.identity

    def mutate(mutant: bytes) -> tuple[bytes | None, bytes]:
        block = common_pb2.Block.FromString(original)
        sign_block(block, Signer(Identity(identity.msp_id, mutant), key))
        return None, bytes(block.SerializeToString())

    pem = identity.certificate_pem
    tally = _timed("orderer", lambda: sweep(sample, bit_flips(pem), mutate, None, ORDERER_CHECKS))
    assert tally.mutations == _der_bits(pem)


def _byte_changes(raw_block: bytes) -> Iterator[tuple[int, bytes]]:
    """(slot, the block) with each byte of each metadata slot inverted in turn."""
    original = common_pb2.Block.FromString(raw_block)
    for slot, data in enumerate(original.metadata.metadata):
        for position in range(len(data)):
            block = common_pb2.Block()
            block.CopyFrom(original)
            mutated = bytearray(data)
            mutated[position] ^= 0xFF
            block.metadata.metadata[slot] = bytes(mutated)
            yield slot, bytes(block.SerializeToString())


def test_every_byte_of_the_ballot_blocks_metadata(sample: Sample) -> None:
    tally = Tally()
    started = time.perf_counter()
    for _, raw_block in _byte_changes(sample.blocks[BALLOT_BLOCK]):
        tally.mutations += 1
        check_audit(sample, chain_with(sample, raw_block), set(CHECKS), tally)
    receipt_copy = receipt_of(sample, sample.blocks[BALLOT_BLOCK]).proof[BALLOT_BLOCK]
    for slot, raw_block in _byte_changes(receipt_copy):
        tally.mutations += 1
        proof = {**sample.receipt.proof, BALLOT_BLOCK: raw_block}
        receipt = dataclasses.replace(sample.receipt, proof=proof)
        if slot == common_pb2.COMMIT_HASH:
            # A peer's own bookkeeping, which only the audit checks: named checks only.
            failed = [
                c.name
                for c in verify_receipt(receipt, anchor=sample.genesis_hash).checks
                if not c.ok
            ]
            assert failed == [], failed
        else:
            check_receipt(
                receipt, sample.genesis_hash, {"orderer_signature", "validation_code"}, tally
            )
    print(f"metadata: {tally} in {time.perf_counter() - started:.1f} s")
    assert tally.mutations > 2 * 900


# --- the command line ---------------------------------------------------------------------------


def _version_flipped(pem: bytes) -> bytes:
    """The certificate with its X.509 version byte flipped (cryptography: InvalidVersion)."""
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    assert der[8:12] == bytes.fromhex("a0030201")
    return ssl.DER_cert_to_PEM_cert(der[:12] + bytes([der[12] ^ 0x01]) + der[13:]).encode()


def test_mvote_verify_reports_a_poisoned_endorsement(
    sample: Sample, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw_tx, index = sample.ballot_tx, sample.receipt.tx_index
    payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(raw_tx).payload)
    tx = transaction_pb2.Transaction.FromString(payload.data)
    cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    msp_id, pem = _certificate_of(cap.action.endorsements[0].endorser)
    poisoned = with_endorser(raw_tx, _serialized(msp_id, _version_flipped(pem)), sample.client)
    block = reblocked(sample.blocks[BALLOT_BLOCK], index, poisoned, sample.orderer)
    chain_file = tmp_path / "chain.bin"
    write_chain(chain_file, chain_with(sample, block))
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_bytes(receipt_of(sample, block).to_bytes())

    anchor = sample.genesis_hash.hex()
    assert cli.main(["audit", "--chain", str(chain_file), "--genesis-hash", anchor]) == 1
    out = capsys.readouterr().out
    assert f"FAILED block {BALLOT_BLOCK} tx {index}" in out and "endorsement_identity" in out
    assert "InvalidVersion" in out and "NOT VERIFIED" in out
    assert cli.main(["audit", "--chain", str(chain_file), "--genesis-hash", anchor, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["verified"] is False
    assert {(f["block"], f["tx_index"], f["check"]) for f in report["findings"]} >= {
        (BALLOT_BLOCK, index, "endorsement_identity")
    }
    assert cli.main(["receipt", str(receipt_file), "--genesis-hash", anchor, "--json"]) == 1
    failed = [c for c in json.loads(capsys.readouterr().out)["checks"] if not c["ok"]]
    assert [c["check"] for c in failed] == ["transaction"]
    assert "identity.id_bytes" in failed[0]["message"]


# --- the last-resort guard ----------------------------------------------------------------------
# A failure no check foresaw is simulated by making one step raise what no check expects.


def _unforeseen(*_: object) -> None:
    raise TypeError("unforeseen")


def test_a_failure_no_check_foresaw_marks_the_transaction_invalid(
    sample: Sample, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transaction, "_unpack_transaction", _unforeseen)
    verdict = validate_transaction(sample.context, 0, sample.ballot_tx)
    assert verdict.code == INVALID_OTHER_REASON and verdict.rwset is None
    assert [r.check for r in verdict.reasons] == [VERIFIER_ERROR]
    assert "TypeError: unforeseen" in verdict.reasons[0].message


def test_a_failure_of_the_context_is_not_the_transactions(sample: Sample) -> None:
    # The ledger failing is the environment's fault: it propagates, no code is made up for it.
    def ledger_gone(_: str) -> bool:
        raise OSError("ledger gone")

    broken = BlockContext(sample.context.config, sample.context.state, ledger_gone)
    with pytest.raises(OSError, match="ledger gone"):
        validate_transaction(broken, 0, sample.ballot_tx)


def test_a_block_no_check_foresaw_is_a_finding_and_the_walk_stops(
    sample: Sample, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chain_module, "orderer_signature_findings", _unforeseen)
    report = audit_chain(sample.blocks, sample.genesis_hash, workers=1)
    assert [(f.block, f.check) for f in report.findings] == [(1, VERIFIER_ERROR)]
    assert "TypeError: unforeseen" in report.findings[0].message
    assert report.chain.blocks == 2 and not report.verified
