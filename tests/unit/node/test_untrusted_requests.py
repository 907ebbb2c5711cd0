"""What anyone can send a node's gateway: unknown identities cost bounded memory; every byte of a
signed proposal and of a transaction envelope, changed, ends in a typed refusal (or, for the
envelope, in ordering and a validation code), and the node goes on committing.

One network and one running node per module (per xdist worker).
"""

from __future__ import annotations

import datetime
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from fabric_protos.common import common_pb2
from fabric_protos.peer import proposal_pb2
from node_support import ORGS, VALID, Client, chain_of, check_chain, voter_key

from mvote.chaincode._errors import InvalidField, MvoteError, Unauthorised
from mvote.client._identity import Identity, Signer
from mvote.client._proposal import new_proposal, sign_envelope
from mvote.node.config import BatchSettings
from mvote.node.endorser import check_proposal, unpack_proposal
from mvote.node.material import NetworkMaterial, init_network
from mvote.node.runtime import Node
from mvote.verifier._msp import MSPManager

UNKNOWN_IDENTITIES = 20_000
MEMORY_LIMIT = 50 << 20


@dataclass
class Harness:
    material: NetworkMaterial
    node: Node
    client: Client
    spec: dict[str, Any]


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    directory: Path = tmp_path_factory.mktemp("untrusted") / "net"
    material = init_network(directory, ORGS, batch=BatchSettings(timeout_ms=20))
    node = Node.open(directory)
    node.start()
    client = Client(node, material)
    try:
        yield Harness(material, node, client, client.open_question("q-untrusted"))
    finally:
        node.stop()


def _unknown_certificates(msp_id: str, count: int) -> Iterator[bytes]:
    """``count`` distinct self-signed certificates naming ``msp_id``: anyone can make them."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, msp_id),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "client"),
            x509.NameAttribute(NameOID.COMMON_NAME, "stranger"),
        ]
    )
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365))
    )
    for serial in range(1, count + 1):
        yield builder.serial_number(serial).sign(key, hashes.SHA256()).public_bytes(Encoding.PEM)


def _refuse_strangers(harness: Harness, msps: MSPManager, certificates: Iterator[bytes]) -> int:
    """Each certificate as a proposal's creator, checked as the gateway checks it (its
    preProcess: check_proposal against the channel's MSPs). The proposal is signed by a key of
    no certificate: the identity is refused before any signature is looked at."""
    key = ec.generate_private_key(ec.SECP256R1())
    count = 0
    for pem in certificates:
        stranger = Signer(Identity(harness.client.user.identity.msp_id, pem), key)
        signed = new_proposal(
            stranger, channel_id="mvote", chaincode="mvote", args=["ListQuestions"]
        ).signed()
        with pytest.raises(Unauthorised):
            check_proposal(unpack_proposal(signed), msps)
        count += 1
    return count


def test_unknown_identities_grow_a_gateways_memory_by_a_bounded_amount(harness: Harness) -> None:
    # The MSPs a gateway process checks proposals against (serving.py: a Peer over the ledger,
    # its channel configuration from the genesis block), as this node process holds them.
    msps = harness.node.channel_config.msps
    msp_id = harness.client.user.identity.msp_id
    _refuse_strangers(harness, msps, _unknown_certificates(msp_id, 50))  # code paths warm
    certificates = list(_unknown_certificates(msp_id, UNKNOWN_IDENTITIES))
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        refused = 0
        for start in range(0, UNKNOWN_IDENTITIES, 1000):
            refused += _refuse_strangers(harness, msps, iter(certificates[start : start + 1000]))
            grown = tracemalloc.get_traced_memory()[0] - base
            # Fail as soon as the bound is passed (unbounded caches of identities and of refusals
            # with their tracebacks took about 11 kB of traced memory, 26 kB of RSS, each).
            assert grown < MEMORY_LIMIT, f"{grown >> 20} MB after {refused} unknown identities"
    finally:
        tracemalloc.stop()
    print(f"{refused} unknown identities: traced memory grew {grown / (1 << 20):.1f} MB")
    assert refused == UNKNOWN_IDENTITIES
    # The gateway still serves its members.
    assert harness.client.query("ListQuestions") is not None


def _inverted(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1 :]


def test_every_byte_of_a_signed_proposal_changed_is_refused_by_type(harness: Harness) -> None:
    h = harness
    proposal = h.client.proposal("Cast", h.client.cast_args(h.spec, voter_key(1), 0))
    refused: dict[str, int] = {}
    endorsed = 0
    for position in range(len(proposal.proposal_bytes)):
        changed = _inverted(proposal.proposal_bytes, position)
        # Signed again by the genuine client: every check after the signature is reached.
        signed = proposal_pb2.SignedProposal(
            proposal_bytes=changed, signature=h.client.user.sign(changed)
        )
        try:
            h.node.endorse(signed)
            endorsed += 1
        except MvoteError as exc:
            refused[exc.code] = refused.get(exc.code, 0) + 1
    # And the signature itself, not signed again.
    for position in range(len(proposal.signature)):
        signed = proposal_pb2.SignedProposal(
            proposal_bytes=proposal.proposal_bytes,
            signature=_inverted(proposal.signature, position),
        )
        try:
            h.node.endorse(signed)
            endorsed += 1
        except MvoteError as exc:
            refused[exc.code] = refused.get(exc.code, 0) + 1
    print(f"proposal: {endorsed} endorsed, refused {refused}")
    assert sum(refused.values()) + endorsed == len(proposal.proposal_bytes) + len(
        proposal.signature
    )
    assert refused and endorsed < len(proposal.proposal_bytes) // 10


def test_every_byte_of_an_envelope_changed_is_refused_or_committed_with_a_code(
    harness: Harness,
) -> None:
    h = harness
    _, envelope, _ = h.client.endorsed("Cast", h.client.cast_args(h.spec, voter_key(2), 0))
    payload = bytes(envelope.payload)
    refused: dict[str, int] = {}
    ordered: list[str] = []
    for position in range(len(payload)):
        changed = sign_envelope(_inverted(payload, position), h.client.user)
        try:
            ordered.append(h.node.submit(changed))
        except MvoteError as exc:
            refused[exc.code] = refused.get(exc.code, 0) + 1
    print(f"envelope: {len(ordered)} ordered, refused {refused}")
    assert sum(refused.values()) + len(ordered) == len(payload)
    codes = [h.node.commit_status(tx_id, timeout=30).code for tx_id in ordered]
    assert all(code != VALID for code in codes), codes
    # The node goes on: a ballot commits, and the chain (with every code the committer wrote)
    # verifies from the genesis hash.
    done = h.client.invoke("Cast", h.client.cast_args(h.spec, voter_key(3), 0))
    assert done.location.code == VALID
    check_chain(chain_of(h.node.ledger), h.material.genesis_hash)


def test_an_envelope_without_a_tx_id_is_refused_at_submit(harness: Harness) -> None:
    """Signed by a writer, but with no tx id: never valid and not indexed, so CommitStatus could
    never find it; Submit refuses it and orders nothing."""
    h = harness
    _, envelope, _ = h.client.endorsed("Cast", h.client.cast_args(h.spec, voter_key(4), 0))
    payload = common_pb2.Payload.FromString(envelope.payload)
    header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    header.tx_id = ""
    payload.header.channel_header = header.SerializeToString()
    height = h.node.ledger.height
    with pytest.raises(InvalidField) as info:
        h.node.submit(sign_envelope(payload.SerializeToString(), h.client.user))
    assert info.value.field == "channel_header.tx_id"
    assert h.node.ledger.height == height and not h.node._pending


def test_the_node_answers_after_the_sweeps(harness: Harness) -> None:
    h = harness
    assert h.node._failure is None
    started = time.monotonic()
    assert h.client.query("ListQuestions") is not None
    assert time.monotonic() - started < 30
