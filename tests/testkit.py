"""Test helpers importable from any test (``tests/`` is on the pytest path): no fixtures here."""

from __future__ import annotations

import datetime
import os
import time
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import nacl.signing
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from fabric_protos.msp import identities_pb2

from mvote.chaincode._records import Eligibility, QuestionSpec, Schedule, SingleChoice
from mvote.chaincode._simulation import SerialLedger

#: The ``tests/`` folder: shared helpers (this module, node_support, ...) import by name from it.
TESTS = Path(__file__).resolve().parent
#: The golden Fabric chain: 16 raw blocks a real Fabric v3.1.5 network wrote, and blocks.json
#: (tests/vectors/fabric-golden/README.md). Every test finds it through this one constant.
GOLDEN = TESTS / "vectors" / "fabric-golden"


def child_env() -> dict[str, str]:
    """The environment of a test's child Python script: ``tests/`` first on its import path, so
    the child imports the shared helpers as the tests do."""
    inherited = os.environ.get("PYTHONPATH")
    path = str(TESTS) if not inherited else os.pathsep.join((str(TESTS), inherited))
    return {**os.environ, "PYTHONPATH": path}


@cache
def creator_bytes(msp_id: str, role: str) -> bytes:
    """A serialized MSP identity whose certificate carries ``role`` as its NodeOU (subject OU)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, msp_id),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{role}@{msp_id}"),
        ]
    )
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return identities_pb2.SerializedIdentity(
        mspid=msp_id, id_bytes=cert.public_bytes(Encoding.PEM)
    ).SerializeToString()


def state_bytes(ledger: SerialLedger) -> bytes:
    """Every key, value and version of a serial ledger in order: equal ledgers give equal bytes."""
    out = bytearray()
    for key, value, version in ledger.state.items():
        for part in (key.encode(), value):
            out += len(part).to_bytes(4, "big") + part
        out += version.block.to_bytes(8, "big") + version.tx.to_bytes(8, "big")
    return bytes(out)


def count_decodes(monkeypatch: Any, *modules: Any) -> Counter[tuple[str, bytes]]:
    """Count every protobuf decode through ``mvote.verifier._envelope.parse_proto`` by (message
    type, bytes), patched into ``envelope`` and each of ``modules`` that imported it by name."""
    from mvote.verifier import _envelope as envelope

    seen: Counter[tuple[str, bytes]] = Counter()
    real = envelope.parse_proto

    def counting(cls: Any, data: bytes, field: str) -> Any:
        seen[(cls.DESCRIPTOR.full_name, bytes(data))] += 1
        return real(cls, data, field)

    for module in (envelope, *modules):
        monkeypatch.setattr(module, "parse_proto", counting)
    return seen


def voter_keys(n: int) -> list[nacl.signing.SigningKey]:
    """``n`` fixed voter keys (seeds 0x01.., 0x02.., ...): the same voters in every run."""
    return [nacl.signing.SigningKey(bytes([i + 1]) * 32) for i in range(n)]


def park_question(qid: str, *, shards: int = 1) -> QuestionSpec:
    """A single-choice question of two options on roster ``r1``, open from now for an hour."""
    now = int(time.time())
    return QuestionSpec(
        qid=qid,
        title="Which park?",
        description="",
        options=("north", "south"),
        rule=SingleChoice(),
        eligibility=Eligibility.of_roster("r1"),
        schedule=Schedule(now - 1, now + 3600),
        shards=shards,
    )
