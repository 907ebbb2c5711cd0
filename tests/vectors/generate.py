"""Write mvote's test vectors (tests/vectors/*.json) from the reference implementation.

Run once, from the repository root: ``.venv/bin/python tests/vectors/generate.py``. The committed
JSON files are the reference: tests/unit/chaincode/test_vectors.py checks that the code still
reproduces every one of them exactly, and another implementation checks itself against them (see
README.md). Regenerating is a protocol change: review the diff.

Everything here is deterministic: keys come from fixed seeds, Ed25519 signatures are
deterministic (RFC 8032), and no clock or randomness is read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import nacl.signing

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._crypto import elgamal
from mvote.chaincode._crypto.group import L, Point
from mvote.chaincode._eligibility import onsite_code_hash
from mvote.chaincode._errors import MvoteError, Refusal
from mvote.chaincode._records import (
    EMPTY_ROSTER_DIGEST,
    Ballot,
    BoundBallot,
    Credential,
    Eligibility,
    MultiChoice,
    QuestionSpec,
    Schedule,
    SecretMode,
    SingleChoice,
    SpoiledBallot,
    YesNo,
    question_binding,
    question_hash,
    roster_digest_after,
)
from mvote.chaincode._stub import create_composite_key, partial_key_range
from mvote.client._secret import PreparedSecretBallot, prepare_secret_ballot

HERE = Path(__file__).resolve().parent


def seed(i: int) -> bytes:
    """The seed of voter ``i``: its 4-byte big-endian index repeated 8 times (as the tests' fixture)."""
    return i.to_bytes(4, "big") * 8


def key(i: int) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(seed(i))


def pub_hex(k: nacl.signing.SigningKey) -> str:
    return bytes(k.verify_key).hex()


def canonical_vectors() -> list[dict[str, Any]]:
    values: list[tuple[str, Any]] = [
        ("null", None),
        ("true", True),
        ("zero", 0),
        ("largest safe integer", 2**53 - 1),
        ("smallest safe integer", -(2**53 - 1)),
        ("empty string", ""),
        ("control characters and escapes", '\b\t\n\f\r\x00\x1f"\\/'),
        ("non-ASCII stays UTF-8", "\u00e9\u4e2d\U0001f600\u2028"),
        ("empty array", []),
        ("empty object", {}),
        (
            "keys sorted by UTF-16 code units",
            {"\ufffd": 1, "\U0001f600": 2, "b": 3, "a": 4, "A": 5},
        ),
        ("nested", {"z": [1, {"y": None, "x": [True, False]}], "a": {"c": "", "b": -1}}),
        (
            "a ballot",
            Ballot("mvote", "q1", (0, 4), pub_hex(key(1))).to_json(),
        ),
    ]
    out = []
    for name, value in values:
        data = encoding.encode(value)
        out.append(
            {
                "name": name,
                "value": value,
                "canonical_hex": data.hex(),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    return out


REJECTED: list[tuple[str, bytes]] = [
    ("duplicate key", b'{"a":1,"a":2}'),
    ("float", b"1.5"),
    ("integral float", b"1.0"),
    ("exponent", b"1e2"),
    ("negative zero", b"-0"),
    ("leading zero", b"01"),
    ("integer above 2**53-1", b"9007199254740992"),
    ("integer below -(2**53-1)", b"-9007199254740992"),
    ("integer of 5000 digits", b"1" * 5000),
    ("NaN", b"NaN"),
    ("leading whitespace", b" {}"),
    ("whitespace after colon", b'{"a": 1}'),
    ("keys out of order", b'{"b":1,"a":2}'),
    ("needless unicode escape", b'"\\u0041"'),
    ("escaped solidus", b'"\\/"'),
    ("uppercase hex escape", b'"\\u001F"'),
    ("text not in NFC", '"e\u0301"'.encode()),
    ("lone surrogate escape", b'"\\ud800"'),
    ("trailing bytes", b"{}x"),
    ("two values", b"{}{}"),
    ("byte order mark", b"\xef\xbb\xbf{}"),
    ("invalid UTF-8", b'"\xff"'),
    ("overlong UTF-8", b'"\xc0\xaf"'),
    ("UTF-8 encoded surrogate", b'"\xed\xa0\x80"'),
    ("empty input", b""),
    ("truncated", b'{"a":'),
]


def rejected_vectors() -> list[dict[str, Any]]:
    out = []
    for name, data in REJECTED:
        try:
            encoding.decode(data, max_size=1 << 20)
        except MvoteError as exc:
            out.append({"name": name, "input_hex": data.hex(), "error": exc.code})
        else:
            raise AssertionError(f"{name}: accepted")
    too_large = encoding.encode("x" * 100)
    out.append(
        {
            "name": "over the size limit",
            "input_hex": too_large.hex(),
            "max_size": 101,
            "error": "TOO_LARGE",
        }
    )
    return out


def ballot_vectors() -> list[dict[str, Any]]:
    cases = [
        ("mvote", "q1", (0,), 1),
        ("mvote", "budget-2026", (3, 17, 29), 2),
        ("city.seoul", "q.b_2", (), 3),
        ("mvote", "yesno", (1,), 4),
    ]
    out = []
    for channel, qid, choices, i in cases:
        k = key(i)
        ballot = Ballot(channel, qid, choices, pub_hex(k))
        data = ballot.canonical_bytes()
        out.append(
            {
                "fields": ballot.to_json(),
                "voter_seed_hex": seed(i).hex(),
                "canonical_hex": data.hex(),
                "tracker": ballot.tracker(),
                "sig": k.sign(data).signature.hex(),
            }
        )
    return out


def signature_vectors() -> list[dict[str, Any]]:
    out = []
    messages = [
        b"",
        b"mvote",
        bytes(range(256)),
        Ballot("mvote", "q1", (2,), pub_hex(key(7))).canonical_bytes(),
    ]
    for i, message in zip((1, 2, 7, 7), messages, strict=True):
        k = key(i)
        out.append(
            {
                "seed_hex": seed(i).hex(),
                "public_key_hex": pub_hex(k),
                "message_hex": message.hex(),
                "signature_hex": k.sign(message).signature.hex(),
            }
        )
    return out


def credential_vectors() -> list[dict[str, Any]]:
    registrar = nacl.signing.SigningKey(b"R" * 32)
    out = []
    for scope, i, expires in (("*", 1, 1_900_000_000), ("q1", 2, 1_800_000_000)):
        body = Credential("mvote", scope, pub_hex(key(i)), pub_hex(registrar), expires)
        data = body.canonical_bytes()
        out.append(
            {
                "registrar_seed_hex": (b"R" * 32).hex(),
                "body": body.to_json(),
                "canonical_hex": data.hex(),
                "sig": registrar.sign(data).signature.hex(),
            }
        )
    return out


def voter_hash_vectors() -> list[dict[str, Any]]:
    out = []
    for i in (1, 2, 3, 1000):
        pub = bytes(key(i).verify_key)
        out.append(
            {
                "seed_hex": seed(i).hex(),
                "public_key_hex": pub.hex(),
                "voter_hash": keys.voter_hash(pub).hex(),
                "shards": {str(n): keys.shard_of(pub, n) for n in (1, 2, 3, 7, 16, 1024)},
            }
        )
    return out


def onsite_vectors() -> list[dict[str, Any]]:
    out = []
    for salt, qid, code in ((bytes(16), "q1", "SITE-4242"), (bytes(range(16)), "hall.7", "ab12")):
        out.append(
            {
                "salt_hex": salt.hex(),
                "qid": qid,
                "code": code,
                "code_hash": onsite_code_hash(salt, qid, code).hex(),
            }
        )
    return out


def roster_vectors() -> list[dict[str, Any]]:
    batches = [
        sorted(keys.voter_hash(bytes(key(i).verify_key)).hex() for i in (1, 2, 3)),
        sorted(keys.voter_hash(bytes(key(i).verify_key)).hex() for i in (4,)),
        sorted(keys.voter_hash(bytes(key(i).verify_key)).hex() for i in (5, 6)),
    ]
    digest = EMPTY_ROSTER_DIGEST
    steps = []
    for batch in batches:
        after = roster_digest_after(digest, batch)
        steps.append(
            {
                "before": digest,
                "entries": batch,
                "batch_canonical_hex": encoding.encode(batch).hex(),
                "after": after,
            }
        )
        digest = after
    return steps


def composite_key_vectors() -> list[dict[str, Any]]:
    voter = pub_hex(key(1))
    entries: list[dict[str, Any]] = []
    for name, made in [
        ("question", keys.question_key("q1")),
        ("roster", keys.roster_key("r1")),
        (
            "rosterentry",
            keys.roster_entry_key("r1", keys.voter_hash(bytes(key(1).verify_key)).hex()),
        ),
        ("ballot", keys.ballot_key("q1", 7, voter)),
        ("participation", keys.participation_key(voter, "q1")),
        ("aggregate", keys.aggregate_key("q1", 3)),
        ("tally", keys.tally_key("q1")),
        ("generic", create_composite_key("type", ["a", "b"])),
        ("non-ASCII attribute", create_composite_key("t", ["\u00e9"])),
    ]:
        entries.append({"name": name, "key_hex": made.encode().hex()})
    start, end = partial_key_range("ballot", ["q1"])
    entries.append(
        {
            "name": "partial range ballot~q1",
            "start_hex": start.encode().hex(),
            "end_hex": end.encode().hex(),
        }
    )
    return entries


#: Refusal payloads (the contract's refused response) and Fabric's message forms.
REFUSAL_PAYLOADS: list[tuple[str, bytes]] = [
    ("with a field", Refusal("ALREADY_VOTED", "voter", "voter: already voted on q1").to_bytes()),
    ("without a field", Refusal("NOT_FOUND", None, "qid: no question 'q9'").to_bytes()),
    ("text beyond ASCII", Refusal("INVALID_FIELD", "title", 'title: é\u00e9 "q"').to_bytes()),
    ("keys out of order", b'{"message":"m","field":null,"code":"NOT_FOUND"}'),
    ("whitespace", b'{"code": "NOT_FOUND","field":null,"message":"m"}'),
    ("escaped where canonical is raw", b'{"code":"NOT_FOUND","field":null,"message":"\\u00e9"}'),
    ("a key missing", b'{"code":"NOT_FOUND","message":"m"}'),
    ("an extra key", b'{"code":"NOT_FOUND","extra":1,"field":null,"message":"m"}'),
    ("a duplicate key", b'{"code":"NOT_FOUND","code":"NOT_FOUND","field":null,"message":"m"}'),
    ("code not a code", b'{"code":"not_found","field":null,"message":"m"}'),
    ("field a number", b'{"code":"NOT_FOUND","field":1,"message":"m"}'),
    ("message null", b'{"code":"NOT_FOUND","field":null,"message":null}'),
    ("not an object", b'["NOT_FOUND",null,"m"]'),
    ("not JSON", b"NOT_FOUND: m"),
    ("not UTF-8", b'{"code":"NOT_FOUND","field":null,"message":"\xff"}'),
    ("empty", b""),
]

REFUSAL_MESSAGES: list[tuple[str, str]] = [
    ("bare", "ALREADY_VOTED: voter: already voted on q1"),
    ("chaincode response", "chaincode response 400, NOT_FOUND: qid: no question 'q9'"),
    (
        "orderer response",
        "received unsuccessful response from orderer: status=BAD_REQUEST, "
        "info=DUPLICATE_TRANSACTION: tx_id: transaction 00ab was already submitted",
    ),
    ("message holding ': '", "RULE_VIOLATION: choices: expected 1, got 2: too many"),
    ("no code", "failed to endorse transaction, see attached details for more info"),
    ("lowercase code", "not_found: qid"),
    ("code with an empty part", "NOT__FOUND: qid"),
    ("chaincode status not 3 digits", "chaincode response 4000, NOT_FOUND: qid"),
    ("chaincode response without a code", "chaincode response 500, INTERNAL fault"),
    (
        "orderer status not a code",
        "received unsuccessful response from orderer: status=400, info=X: y",
    ),
    ("a code inside other text", "error: chaincode response 400, NOT_FOUND: qid"),
    ("empty", ""),
]


def _refusal_outcome(make: Any, data: Any) -> dict[str, Any]:
    try:
        refusal = make(data)
    except MvoteError as exc:
        return {"error": exc.code}
    return {"refusal": {"code": refusal.code, "field": refusal.field, "message": refusal.message}}


def refusal_vectors() -> list[dict[str, Any]]:
    payloads = [
        {"name": name, "form": "payload", "input_hex": data.hex()}
        | _refusal_outcome(Refusal.from_bytes, data)
        for name, data in REFUSAL_PAYLOADS
    ]
    messages = [
        {"name": name, "form": "fabric_message", "input": text}
        | _refusal_outcome(Refusal.from_fabric_message, text)
        for name, text in REFUSAL_MESSAGES
    ]
    return payloads + messages


# --- contract mvote-2: ballots that bind the question record; spoiled ballots ------------------

#: The registrar of the open question in the v2 vectors (seed: 32 bytes of "R", as credentials).
_REGISTRAR = nacl.signing.SigningKey(b"R" * 32)


def _v2_question(qid: str, options: tuple[str, ...], rule: Any, secret: str | None) -> QuestionSpec:
    return QuestionSpec(
        qid=qid,
        title=f"Question {qid}",
        description="not bound: the description may be corrected",
        options=options,
        rule=rule,
        eligibility=Eligibility.of_registrars((pub_hex(_REGISTRAR),)),
        schedule=Schedule(1_700_000_000, 1_700_086_400),
        secret=None if secret is None else SecretMode(secret),
    )


def _election_key() -> Point:
    """A fixed election key: s·G for s = SHA-512("vectors/election-secret") mod L."""
    secret = int.from_bytes(hashlib.sha512(b"vectors/election-secret").digest(), "little") % L
    return elgamal.keypair(secret)


def bound_ballot_vectors() -> list[dict[str, Any]]:
    cases = [
        ("q1", ("a", "b", "c"), SingleChoice(), (0,), 1),
        (
            "budget-2026",
            ("park", "library", "\ub3c4\uc11c\uad00", "bus"),
            MultiChoice(0, 3),
            (1, 2),
            2,
        ),
        ("yesno", ("yes", "no"), YesNo(5000), (1,), 3),
    ]
    out = []
    for qid, options, rule, choices, i in cases:
        spec = _v2_question(qid, options, rule, None)
        binding = question_binding(spec, None)
        k = key(i)
        ballot = BoundBallot("mvote", qid, choices, pub_hex(k), question_hash(spec, None))
        data = ballot.canonical_bytes()
        out.append(
            {
                "question": spec.to_json(),
                "binding": binding,
                "binding_canonical_hex": encoding.encode(binding).hex(),
                "question_hash": ballot.question,
                "fields": ballot.to_json(),
                "voter_seed_hex": seed(i).hex(),
                "canonical_hex": data.hex(),
                "tracker": ballot.tracker(),
                "sig": k.sign(data).signature.hex(),
            }
        )
    return out


def _prepared_secret(i: int, spec: QuestionSpec, choices: tuple[int, ...]) -> PreparedSecretBallot:
    return prepare_secret_ballot(
        key(i),
        channel="mvote",
        question=spec,
        election_key=_election_key(),
        choices=choices,
        seed=hashlib.sha256(f"vectors/ballot-seed/{i}".encode()).digest(),
    )


def bound_secret_ballot_vectors() -> list[dict[str, Any]]:
    out = []
    for qid, options, rule, choices, i in (
        ("s1", ("a", "b", "c", "d"), MultiChoice(0, 2), (1, 3), 5),
        ("s2", ("yes", "no"), YesNo(5000), (0,), 6),
    ):
        spec = _v2_question(qid, options, rule, "ceremony-1")
        prepared = _prepared_secret(i, spec, choices)
        ballot, ctx = prepared.ballot, prepared.context
        data = ballot.canonical_bytes()
        out.append(
            {
                "question": spec.to_json(),
                "election_key": _election_key().hex(),
                "binding_canonical_hex": encoding.encode(
                    question_binding(spec, _election_key())
                ).hex(),
                "question_hash": ballot.question,
                "voter_seed_hex": seed(i).hex(),
                "choices": list(choices),
                "seed_hex": hashlib.sha256(f"vectors/ballot-seed/{i}".encode()).hexdigest(),
                "header_hex": ctx.header().hex(),
                "nonce_key_hex": prepared.nonce_key.hex(),
                "fields": ballot.to_json(),
                "canonical_sha256": hashlib.sha256(data).hexdigest(),
                "tracker": ballot.tracker(),
                "sig": prepared.request.sig,
            }
        )
    return out


def spoiled_ballot_vectors() -> list[dict[str, Any]]:
    spec = _v2_question("s1", ("a", "b", "c", "d"), MultiChoice(0, 2), "ceremony-1")
    prepared = _prepared_secret(7, spec, (0, 2))
    request = prepared.spoil_request()
    record = SpoiledBallot(
        ballot=prepared.ballot,
        sig=prepared.request.sig,
        nonce_key=request.nonce_key,
        choices=prepared.choices,
        tracker=prepared.tracker,
        tx="ab" * 32,
        at=1_700_000_100,
    )
    return [
        {
            "question": spec.to_json(),
            "election_key": _election_key().hex(),
            "spoil_request": request.to_json(),
            "spoil_request_sha256": hashlib.sha256(encoding.encode(request.to_json())).hexdigest(),
            "key_hex": keys.spoiled_key("s1", prepared.tracker).encode().hex(),
            "record": record.to_json(),
            "record_canonical_sha256": hashlib.sha256(
                encoding.encode(record.to_json())
            ).hexdigest(),
            "choices": list(prepared.choices),
        }
    ]


FILES: dict[str, tuple[str, Any]] = {
    "canonical_encoding.json": (
        "RFC 8785 canonical JSON as mvote restricts it: value -> canonical bytes (hex) and their SHA-256.",
        canonical_vectors,
    ),
    "rejected_encodings.json": (
        "Byte strings that decode() must refuse, with the error code (max_size, if given, is the size limit; otherwise 1 MiB).",
        rejected_vectors,
    ),
    "ballots.json": (
        "Ballots: fields, canonical bytes (what the voter signs), tracker = SHA-256 of those bytes, and the voter's Ed25519 signature.",
        ballot_vectors,
    ),
    "ballots_v2.json": (
        "Contract mvote-2 open ballots (mvote.ballot.v2): the question record, its binding (type mvote.question-binding.v1: qid, title, options, rule, eligibility, mode, election_key null), question_hash = SHA-256 of the binding's canonical bytes, the ballot that binds it, its canonical bytes, tracker and the voter's signature.",
        bound_ballot_vectors,
    ),
    "secret_ballots_v2.json": (
        "Contract mvote-2 secret ballots (mvote.secret-ballot.v2): the question and election key, the binding's canonical bytes (election_key hex) and question_hash, the ballot header v2 (transcript 'ballot-header-v2' ending with the question hash), the device's seed, nonce_key = first 32 bytes of SHA-512(transcript('ballot-nonce-key', seed, header, n, b_0..b_n-1)), the signed ballot and its tracker.",
        bound_secret_ballot_vectors,
    ),
    "spoiled_ballots.json": (
        "Cast-or-audit: the SpoilBallot argument (the signed mvote.secret-ballot.v2 cast request and its nonce key) and the spoiled~{qid}~{tracker} record the contract writes (the choices the opening shows).",
        spoiled_ballot_vectors,
    ),
    "signatures.json": (
        "Voter Ed25519 (RFC 8032) signatures: 32-byte seed, public key, message, signature.",
        signature_vectors,
    ),
    "credentials.json": (
        "Registrar credentials: body, canonical bytes of the body, and the registrar's Ed25519 signature over them.",
        credential_vectors,
    ),
    "voter_hash.json": (
        "voter_hash = SHA-256('mvote/voter-hash/v1' || 0x00 || public key); shard_of = first 8 bytes of voter_hash, big-endian, mod shards.",
        voter_hash_vectors,
    ),
    "onsite_code.json": (
        "On-site code hash = SHA-256('mvote/onsite-code/v1' || 0x00 || salt || UTF-8(qid) || 0x00 || UTF-8(code)).",
        onsite_vectors,
    ),
    "roster_digest.json": (
        "Roster digest chaining from 32 zero bytes: after = SHA-256(before || SHA-256(canonical JSON array of the batch's entries)).",
        roster_vectors,
    ),
    "composite_keys.json": (
        "State keys in Fabric's composite key layout (0x00 type 0x00 attr 0x00 ...), as hex of their UTF-8 bytes; a partial range ends with U+10FFFF.",
        composite_key_vectors,
    ),
    "refusals.json": (
        "Refusals: form 'payload' is a refused contract response's payload (canonical JSON of code, field, message; field null when absent), form 'fabric_message' a message text in one of Fabric's known forms ('CODE: text', 'chaincode response NNN, CODE: text', 'received unsuccessful response from orderer: status=NAME, info=CODE: text'). Each decodes to 'refusal' or is refused with the error code 'error'.",
        refusal_vectors,
    ),
}


def build() -> dict[str, dict[str, Any]]:
    return {
        name: {"description": description, "vectors": make()}
        for name, (description, make) in FILES.items()
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    for name, document in build().items():
        (HERE / name).write_text(render(document), encoding="utf-8")
        print(f"wrote {name}: {len(document['vectors'])} vectors")


if __name__ == "__main__":
    main()
