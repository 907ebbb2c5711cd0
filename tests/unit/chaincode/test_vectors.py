"""The committed test vectors (tests/vectors/*.json) are the reference: the code must reproduce
every one exactly. Each file is checked on its own terms (recomputing from the vector's inputs),
and the generator must reproduce the committed files byte for byte."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from mvote.chaincode import _ed25519 as ed25519
from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._crypto import ballot as crypto_ballot
from mvote.chaincode._crypto.group import point_from_hex
from mvote.chaincode._eligibility import check_credential, onsite_code_hash
from mvote.chaincode._errors import MvoteError, Refusal
from mvote.chaincode._records import (
    EMPTY_ROSTER_DIGEST,
    BoundBallot,
    BoundSecretBallot,
    Credential,
    Eligibility,
    QuestionSpec,
    SignedCredential,
    SpoiledBallot,
    SpoilRequest,
    ballot_from_json,
    question_binding,
    question_hash,
    roster_digest_after,
)
from mvote.chaincode._stub import partial_key_range, split_composite_key
from mvote.client._secret import ballot_context

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
# The secret-ballot vectors (crypto_*.json) are checked by tests/unit/crypto/test_crypto_vectors.py,
# the config update cases (config_updates.json) by tests/unit/verifier/test_config_update.py.
FILES = sorted(
    p.name for p in VECTORS.glob("*.json") if not p.name.startswith(("crypto_", "config_"))
)


def _load(name: str) -> list[dict[str, Any]]:
    document = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    assert set(document) == {"description", "vectors"}
    assert document["description"]
    assert document["vectors"]
    vectors: list[dict[str, Any]] = document["vectors"]
    return vectors


def test_every_vector_file_is_there() -> None:
    assert FILES == [
        "ballots.json",
        "ballots_v2.json",
        "canonical_encoding.json",
        "composite_keys.json",
        "credentials.json",
        "onsite_code.json",
        "refusals.json",
        "rejected_encodings.json",
        "roster_digest.json",
        "secret_ballots_v2.json",
        "signatures.json",
        "spoiled_ballots.json",
        "voter_hash.json",
    ]


def test_the_generator_reproduces_the_committed_files() -> None:
    spec = importlib.util.spec_from_file_location("mvote_vectors_generate", VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    for name, document in generate.build().items():
        assert generate.render(document) == (VECTORS / name).read_text(encoding="utf-8"), name


@pytest.mark.parametrize("vector", _load("canonical_encoding.json"), ids=lambda v: v["name"])
def test_canonical_encoding(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["canonical_hex"])
    assert encoding.encode(vector["value"]) == data
    assert hashlib.sha256(data).hexdigest() == vector["sha256"]
    assert encoding.digest(vector["value"]).hex() == vector["sha256"]
    assert encoding.decode(data, max_size=1 << 20) == vector["value"]


@pytest.mark.parametrize("vector", _load("rejected_encodings.json"), ids=lambda v: v["name"])
def test_rejected_encodings(vector: dict[str, Any]) -> None:
    with pytest.raises(MvoteError) as info:
        encoding.decode(
            bytes.fromhex(vector["input_hex"]), max_size=vector.get("max_size", 1 << 20)
        )
    assert info.value.code == vector["error"]


@pytest.mark.parametrize("vector", _load("ballots.json"), ids=lambda v: v["tracker"][:12])
def test_ballots(vector: dict[str, Any]) -> None:
    ballot = ballot_from_json(vector["fields"])
    data = bytes.fromhex(vector["canonical_hex"])
    assert ballot.canonical_bytes() == data
    assert ballot.tracker() == vector["tracker"] == hashlib.sha256(data).hexdigest()
    key = nacl.signing.SigningKey(bytes.fromhex(vector["voter_seed_hex"]))
    assert bytes(key.verify_key).hex() == ballot.voter
    assert key.sign(data).signature.hex() == vector["sig"]
    ed25519.verify(bytes.fromhex(ballot.voter), data, bytes.fromhex(vector["sig"]), "sig")


@pytest.mark.parametrize("vector", _load("signatures.json"), ids=lambda v: v["signature_hex"][:12])
def test_signatures(vector: dict[str, Any]) -> None:
    key = nacl.signing.SigningKey(bytes.fromhex(vector["seed_hex"]))
    public = bytes.fromhex(vector["public_key_hex"])
    message = bytes.fromhex(vector["message_hex"])
    assert bytes(key.verify_key) == public
    assert key.sign(message).signature.hex() == vector["signature_hex"]
    ed25519.checked_public_key(public, "key")
    ed25519.verify(public, message, bytes.fromhex(vector["signature_hex"]), "sig")


@pytest.mark.parametrize("vector", _load("credentials.json"), ids=lambda v: v["body"]["scope"])
def test_credentials(vector: dict[str, Any]) -> None:
    body = Credential.from_json(vector["body"])
    data = bytes.fromhex(vector["canonical_hex"])
    assert body.canonical_bytes() == data
    registrar = nacl.signing.SigningKey(bytes.fromhex(vector["registrar_seed_hex"]))
    assert bytes(registrar.verify_key).hex() == body.registrar
    assert registrar.sign(data).signature.hex() == vector["sig"]
    qid = "q1" if body.scope == "*" else body.scope
    check_credential(
        Eligibility.of_registrars((body.registrar,)),
        SignedCredential(body, vector["sig"]),
        channel=body.channel,
        qid=qid,
        voter=body.voter,
        now=body.expires_at - 1,
    )


@pytest.mark.parametrize("vector", _load("voter_hash.json"), ids=lambda v: v["voter_hash"][:12])
def test_voter_hash_and_shards(vector: dict[str, Any]) -> None:
    key = nacl.signing.SigningKey(bytes.fromhex(vector["seed_hex"]))
    public = bytes.fromhex(vector["public_key_hex"])
    assert bytes(key.verify_key) == public
    assert keys.voter_hash(public).hex() == vector["voter_hash"]
    assert vector["shards"]
    for shards, shard in vector["shards"].items():
        assert keys.shard_of(public, int(shards)) == shard


@pytest.mark.parametrize("vector", _load("onsite_code.json"), ids=lambda v: v["qid"])
def test_onsite_code_hash(vector: dict[str, Any]) -> None:
    salt = bytes.fromhex(vector["salt_hex"])
    assert onsite_code_hash(salt, vector["qid"], vector["code"]).hex() == vector["code_hash"]


def test_roster_digest_chain() -> None:
    steps = _load("roster_digest.json")
    digest = EMPTY_ROSTER_DIGEST
    for step in steps:
        assert step["before"] == digest
        assert encoding.encode(step["entries"]).hex() == step["batch_canonical_hex"]
        digest = roster_digest_after(digest, step["entries"])
        assert digest == step["after"]


@pytest.mark.parametrize("vector", _load("composite_keys.json"), ids=lambda v: v["name"])
def test_composite_keys(vector: dict[str, Any]) -> None:
    voter = bytes(nacl.signing.SigningKey((1).to_bytes(4, "big") * 8).verify_key)
    expected = {
        "question": keys.question_key("q1"),
        "roster": keys.roster_key("r1"),
        "rosterentry": keys.roster_entry_key("r1", keys.voter_hash(voter).hex()),
        "ballot": keys.ballot_key("q1", 7, voter.hex()),
        "participation": keys.participation_key(voter.hex(), "q1"),
        "aggregate": keys.aggregate_key("q1", 3),
        "tally": keys.tally_key("q1"),
    }
    if "key_hex" not in vector:
        start, end = partial_key_range("ballot", ["q1"])
        assert start.encode().hex() == vector["start_hex"]
        assert end.encode().hex() == vector["end_hex"]
        assert bytes.fromhex(vector["end_hex"]).endswith(b"\x00\xf4\x8f\xbf\xbf")
        return
    raw = bytes.fromhex(vector["key_hex"])
    assert raw[:1] == b"\x00" and raw[-1:] == b"\x00"
    object_type, _ = split_composite_key(raw.decode("utf-8"))
    if vector["name"] in expected:
        assert object_type == vector["name"]
        assert expected[vector["name"]].encode() == raw


@pytest.mark.parametrize(
    "vector", _load("refusals.json"), ids=lambda v: f"{v['form']}: {v['name']}"
)
def test_refusals(vector: dict[str, Any]) -> None:
    if vector["form"] == "payload":
        data = bytes.fromhex(vector["input_hex"])
        decode = lambda: Refusal.from_bytes(data)  # noqa: E731
    else:
        assert vector["form"] == "fabric_message"
        decode = lambda: Refusal.from_fabric_message(vector["input"])  # noqa: E731
    if "error" in vector:
        with pytest.raises(MvoteError) as info:
            decode()
        assert info.value.code == vector["error"]
        return
    refusal = decode()
    assert vector["refusal"] == {
        "code": refusal.code,
        "field": refusal.field,
        "message": refusal.message,
    }
    if vector["form"] == "payload":
        assert refusal.to_bytes() == data


@pytest.mark.parametrize("vector", _load("ballots_v2.json"), ids=lambda v: v["tracker"][:12])
def test_bound_ballots(vector: dict[str, Any]) -> None:
    spec = QuestionSpec.from_json(vector["question"])
    binding = question_binding(spec, None)
    assert binding == vector["binding"]
    assert encoding.encode(binding).hex() == vector["binding_canonical_hex"]
    assert hashlib.sha256(encoding.encode(binding)).hexdigest() == vector["question_hash"]
    assert question_hash(spec, None) == vector["question_hash"]
    ballot = ballot_from_json(vector["fields"])
    assert isinstance(ballot, BoundBallot)
    assert ballot.question == vector["question_hash"]
    data = bytes.fromhex(vector["canonical_hex"])
    assert ballot.canonical_bytes() == data
    assert ballot.tracker() == vector["tracker"] == hashlib.sha256(data).hexdigest()
    key = nacl.signing.SigningKey(bytes.fromhex(vector["voter_seed_hex"]))
    assert key.sign(data).signature.hex() == vector["sig"]
    # Any other label order binds another question.
    swapped = QuestionSpec.from_json(
        {**vector["question"], "options": vector["question"]["options"][::-1]}
    )
    assert question_hash(swapped, None) != vector["question_hash"]


@pytest.mark.parametrize("vector", _load("secret_ballots_v2.json"), ids=lambda v: v["tracker"][:12])
def test_bound_secret_ballots(vector: dict[str, Any]) -> None:
    spec = QuestionSpec.from_json(vector["question"])
    election_key = point_from_hex(vector["election_key"], "election_key")
    binding = encoding.encode(question_binding(spec, election_key))
    assert binding.hex() == vector["binding_canonical_hex"]
    assert hashlib.sha256(binding).hexdigest() == vector["question_hash"]
    key = nacl.signing.SigningKey(bytes.fromhex(vector["voter_seed_hex"]))
    ctx = ballot_context(
        election_key=election_key, channel="mvote", question=spec, voter=bytes(key.verify_key)
    )
    assert ctx.header().hex() == vector["header_hex"]
    seed = bytes.fromhex(vector["seed_hex"])
    nonce_key = crypto_ballot.nonce_key(ctx, vector["choices"], seed)
    assert nonce_key.hex() == vector["nonce_key_hex"]
    ballot = ballot_from_json(vector["fields"])
    assert isinstance(ballot, BoundSecretBallot)
    assert ballot.question == vector["question_hash"]
    assert crypto_ballot.encrypt_ballot(ctx, vector["choices"], seed) == ballot.encrypted
    crypto_ballot.verify_ballot(ctx, ballot.encrypted)
    opened = crypto_ballot.open_ballot(ctx, ballot.encrypted, nonce_key)
    assert [i for i, b in enumerate(opened) if b] == vector["choices"]
    data = ballot.canonical_bytes()
    assert hashlib.sha256(data).hexdigest() == vector["canonical_sha256"] == vector["tracker"]
    ed25519.verify(bytes(key.verify_key), data, bytes.fromhex(vector["sig"]), "sig")


@pytest.mark.parametrize("vector", _load("spoiled_ballots.json"), ids=lambda v: v["key_hex"][:12])
def test_spoiled_ballots(vector: dict[str, Any]) -> None:
    spec = QuestionSpec.from_json(vector["question"])
    election_key = point_from_hex(vector["election_key"], "election_key")
    request = SpoilRequest.from_json(vector["spoil_request"])
    assert (
        hashlib.sha256(encoding.encode(vector["spoil_request"])).hexdigest()
        == vector["spoil_request_sha256"]
    )
    ballot = request.request.ballot
    assert isinstance(ballot, BoundSecretBallot)
    ctx = ballot_context(
        election_key=election_key,
        channel=ballot.channel,
        question=spec,
        voter=bytes.fromhex(ballot.voter),
    )
    opened = crypto_ballot.open_ballot(ctx, ballot.encrypted, bytes.fromhex(request.nonce_key))
    assert [i for i, b in enumerate(opened) if b] == vector["choices"]
    record = SpoiledBallot.from_json(vector["record"])
    assert list(record.choices) == vector["choices"]
    assert record.ballot == ballot
    assert record.nonce_key == request.nonce_key
    assert record.tracker == ballot.tracker()
    assert keys.spoiled_key(spec.qid, record.tracker).encode().hex() == vector["key_hex"]
    assert (
        hashlib.sha256(encoding.encode(record.to_json())).hexdigest()
        == vector["record_canonical_sha256"]
    )
