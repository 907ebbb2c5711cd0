"""Blocks for the ledger tests: the golden Fabric chain, and a deterministic stream of realistic
endorser-transaction blocks (full envelope -> transaction -> chaincode action -> rwset nesting).

Imported by the tests and by the kill test's child process, so it needs nothing from pytest.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import plyvel
from fabric_protos.common import common_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2, proposal_response_pb2, transaction_pb2
from testkit import GOLDEN

from mvote.node.ledger.blockfile import Location, scan
from mvote.verifier._block import block_data_hash, block_header_hash

CHANNEL = "mvote"
VALID = 0
MVCC_READ_CONFLICT = 11

Writes = dict[str, dict[str, bytes | None]]


def golden_blocks() -> list[Any]:
    return [
        common_pb2.Block.FromString((GOLDEN / f"{i:06d}.block").read_bytes()) for i in range(16)
    ]


def golden_json() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GOLDEN / "blocks.json").read_text())
    return loaded


def header_hash(block: Any) -> bytes:
    h = block.header
    return block_header_hash(h.number, h.previous_hash, h.data_hash)


def rwset(
    writes: Writes, hashed: dict[str, dict[str, dict[bytes, bytes | None]]] | None = None
) -> bytes:
    """A KV ``TxReadWriteSet``: public writes per namespace (None deletes), and hashed writes
    per namespace and collection."""
    txrw = rwset_pb2.TxReadWriteSet(data_model=rwset_pb2.TxReadWriteSet.KV)
    for ns in sorted(set(writes) | set(hashed or {})):
        kv = kv_rwset_pb2.KVRWSet()
        for key, value in writes.get(ns, {}).items():
            kv.writes.add(key=key, is_delete=value is None, value=value or b"")
        ns_rw = txrw.ns_rwset.add(namespace=ns, rwset=kv.SerializeToString())
        for coll, entries in (hashed or {}).get(ns, {}).items():
            h = kv_rwset_pb2.HashedRWSet()
            for key_hash, value_hash in entries.items():
                h.hashed_writes.add(
                    key_hash=key_hash, is_delete=value_hash is None, value_hash=value_hash or b""
                )
            ns_rw.collection_hashed_rwset.add(
                collection_name=coll, hashed_rwset=h.SerializeToString()
            )
    return txrw.SerializeToString()


def endorser_envelope(tx_id: str, results: bytes, chaincode: str = "mvote") -> bytes:
    """An endorser transaction envelope shaped as Fabric's (signatures are placeholders: the
    ledger trusts its committer's validation and never checks them)."""
    cc_id = chaincode_pb2.ChaincodeID(name=chaincode, version="1.0")
    ch = common_pb2.ChannelHeader(
        type=common_pb2.ENDORSER_TRANSACTION,
        channel_id=CHANNEL,
        tx_id=tx_id,
        extension=proposal_pb2.ChaincodeHeaderExtension(chaincode_id=cc_id).SerializeToString(),
    )
    sh = common_pb2.SignatureHeader(creator=b"creator", nonce=tx_id.encode()[:24])
    action = proposal_pb2.ChaincodeAction(
        results=results,
        chaincode_id=cc_id,
        response=proposal_response_pb2.Response(status=200),
    )
    prp = proposal_response_pb2.ProposalResponsePayload(
        proposal_hash=hashlib.sha256(tx_id.encode()).digest(),
        extension=action.SerializeToString(),
    )
    cap = transaction_pb2.ChaincodeActionPayload(
        action=transaction_pb2.ChaincodeEndorsedAction(
            proposal_response_payload=prp.SerializeToString(),
            endorsements=[proposal_response_pb2.Endorsement(endorser=b"peer", signature=b"sig")],
        )
    )
    tx = transaction_pb2.Transaction()
    tx.actions.add(header=sh.SerializeToString(), payload=cap.SerializeToString())
    payload = common_pb2.Payload(
        header=common_pb2.Header(
            channel_header=ch.SerializeToString(), signature_header=sh.SerializeToString()
        ),
        data=tx.SerializeToString(),
    )
    return common_pb2.Envelope(
        payload=payload.SerializeToString(), signature=b"sig"
    ).SerializeToString()


def make_block(number: int, previous_hash: bytes, envelopes: list[bytes], codes: list[int]) -> Any:
    """A block with a correct data hash and the five metadata slots, codes in slot 2."""
    block = common_pb2.Block()
    block.header.number = number
    block.header.previous_hash = previous_hash
    block.header.data_hash = block_data_hash(envelopes)
    block.data.data.extend(envelopes)
    block.metadata.metadata.extend([b"", b"", bytes(codes), b"", b""])
    return block


def rechain(template: Any, number: int, previous_hash: bytes) -> Any:
    """``template``'s transactions and metadata under a new number and previous hash."""
    block = common_pb2.Block()
    block.CopyFrom(template)
    block.header.number = number
    block.header.previous_hash = previous_hash
    return block


def stream_block(number: int, previous_hash: bytes) -> Any:
    """Block ``number`` of a deterministic stream: 1-6 transactions, mostly VALID, writing and
    deleting plain and composite keys with values up to 64 KiB; every 7th block also carries a
    golden Cast envelope (so its tx id recurs, and only the first occurrence is indexed)."""
    rng = random.Random(number)
    envelopes: list[bytes] = []
    codes: list[int] = []
    for i in range(rng.randint(1, 6)):
        tx_id = hashlib.sha256(f"stream/{number}/{i}".encode()).hexdigest()
        envelopes.append(endorser_envelope(tx_id, rwset(_random_writes(rng))))
        codes.append(VALID if rng.random() < 0.8 else MVCC_READ_CONFLICT)
    if number % 7 == 3:
        cast = common_pb2.Block.FromString((GOLDEN / "000006.block").read_bytes())
        envelopes.append(bytes(cast.data.data[number % 4]))
        codes.append(VALID)
    return make_block(number, previous_hash, envelopes, codes)


def _random_writes(rng: random.Random) -> Writes:
    writes: Writes = {}
    for _ in range(rng.randint(1, 4)):
        ns = rng.choice(["mvote", "mvote", "other"])
        key = rng.choice(
            [
                f"ballot~q{rng.randint(0, 3)}~{rng.randint(0, 30)}",
                f"\x00tally\x00q{rng.randint(0, 3)}\x00{rng.randint(0, 9)}\x00",
                f"question~é{rng.randint(0, 5)}",
            ]
        )
        size = 65536 if rng.random() < 0.03 else rng.choice([1, 40, 300, 2000])
        writes.setdefault(ns, {})[key] = None if rng.random() < 0.15 else rng.randbytes(size)
    return writes


def stream(count: int) -> list[Any]:
    """The first ``count`` blocks of the stream, chained from an empty previous hash."""
    blocks: list[Any] = []
    previous = b""
    for number in range(count):
        block = stream_block(number, previous)
        blocks.append(block)
        previous = header_hash(block)
    return blocks


def dump_index(directory: Path) -> dict[bytes, bytes]:
    """Every LevelDB entry of a closed ledger in ``directory``."""
    db = plyvel.DB(str(directory / "index"))
    try:
        return dict(db.iterator())
    finally:
        db.close()


def directory_bytes(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (relative path -> content), LevelDB's LOCK aside."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != "LOCK"
    }


def scan_bytes(data: bytes, start: int = 0) -> list[tuple[Location, bytes]]:
    """:func:`scan` over an in-memory copy of a block file."""
    return list(scan(lambda offset, n: data[offset : offset + n], start))
