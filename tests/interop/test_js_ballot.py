"""The JavaScript ballot module (js/ballot, ``@mvote/ballot``) against the Python reference.

Runs the package's own ``node --test`` suite (every vector of tests/vectors/), then compares the
two languages directly through js/ballot/scripts/interop.mjs: canonical bytes of a few thousand
seeded random values, the decoder's verdict on a few thousand mutated inputs, public-key and
signature checks against libsodium, and ballots prepared in JavaScript that the Python contract
accepts on a SerialLedger, byte for byte what the Python client would have sent, and that commit
on the real embedded node (gRPC, LevelDB) with a receipt the verifier accepts.

Skipped only when ``node`` is not installed. The package has no dependencies: no npm install.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import nacl.bindings
import nacl.signing
import pytest
from testkit import creator_bytes, state_bytes

from mvote.chaincode import _ed25519 as ed25519
from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._eligibility import onsite_code_hash
from mvote.chaincode._errors import ERROR_TYPES, MvoteError
from mvote.chaincode._records import Question
from mvote.chaincode._simulation import SerialLedger
from mvote.client._ballot import prepare_ballot
from mvote.client._registrar import issue_credential

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "js" / "ballot"
SCRIPT = PACKAGE / "scripts" / "interop.mjs"
NODE = shutil.which("node")
#: Bounds for a subprocess that normally takes about a second; generous for a loaded 2-core machine.
SUITE_TIMEOUT = 300
SCRIPT_TIMEOUT = 120
MIB = 1 << 20
L = 2**252 + 27742317777372353535851937790883648493

pytestmark = pytest.mark.skipif(
    NODE is None,
    reason="Node.js (node) is not installed: the JavaScript ballot module cannot run",
)


def run_js(op: str, items: list[Any]) -> list[dict[str, Any]]:
    """Apply ``op`` of interop.mjs to every item; a refusal comes back as {"error": code, ...}."""
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(SCRIPT)],
        input=json.dumps({"op": op, "items": items}),
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results: list[dict[str, Any]] = json.loads(done.stdout)
    assert len(results) == len(items)
    return results


def python_verdict(call: Any) -> dict[str, Any]:
    """The Python side's result in interop.mjs's form: the value, or the refusal's code."""
    try:
        return {"ok": call()}
    except MvoteError as exc:
        return {"error": exc.code}


def js_verdict(result: dict[str, Any], key: str) -> dict[str, Any]:
    return {"error": result["error"]} if "error" in result else {"ok": result[key]}


# --- the package's own suite -----------------------------------------------------------------


def test_node_test_suite_passes() -> None:
    assert NODE is not None
    tests = list((PACKAGE / "test").glob("*.test.js"))
    assert len(tests) >= 5
    done = subprocess.run(
        [NODE, "--test", "--test-reporter=tap", *sorted(str(f) for f in tests)],
        cwd=PACKAGE,
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT,
        check=False,
    )
    summary = dict(re.findall(r"^# (pass|fail|cancelled) (\d+)$", done.stdout, re.MULTILINE))
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert summary.get("fail") == "0" and summary.get("cancelled") == "0", summary
    assert int(summary.get("pass", "0")) >= 20, summary


def test_js_error_codes_are_in_the_error_table() -> None:
    source = (PACKAGE / "src" / "errors.js").read_text(encoding="utf-8")
    codes = set(re.findall(r'^export const [A-Z_]+ = "([A-Z_]+)";$', source, re.MULTILINE))
    assert len(codes) >= 9
    assert codes <= set(ERROR_TYPES), f"not in docs/errors.md: {codes - set(ERROR_TYPES)}"


def test_package_version_is_the_python_version() -> None:
    package = json.loads((PACKAGE / "package.json").read_text(encoding="utf-8"))
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version = "([^"]+)"$', pyproject, re.MULTILINE)
    assert match is not None
    assert package["version"] == match.group(1)
    assert package["name"] == "@mvote/ballot" and package["private"] is True
    assert "dependencies" not in package and "devDependencies" not in package


# --- canonical encoding: the same bytes, the same refusals -----------------------------------

#: Characters that exercise every escape, non-ASCII UTF-8, astral characters (UTF-16 key order),
#: combining marks (non-NFC text) and lone surrogates.
ALPHABET = [
    "a", "Z", "0", " ", '"', "\\", "/", "\n", "\x00", "\x1f", "\x7f", "é", "e\u0301", "\u0301",
    "中", "\u2028", "\U0001f600", "\ufffd", "\uff61", "\ud800", "Å", "\u212b",
]  # fmt: skip


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(6)))


def _value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(4 if depth > 3 else 6)
    if pick == 0:
        return rng.choice([None, True, False])
    if pick == 1:
        bound = rng.choice([10, 10**6, encoding.MAX_SAFE_INTEGER, encoding.MAX_SAFE_INTEGER + 2])
        return rng.randint(-bound, bound)
    if pick in (2, 3):
        return _text(rng)
    if pick == 4:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {_text(rng): _value(rng, depth + 1) for _ in range(rng.randrange(4))}


def test_canonical_bytes_equal_the_python_encoder() -> None:
    rng = random.Random(8785)
    values = [_value(rng) for _ in range(3000)]
    texts = [json.dumps(v, ensure_ascii=True) for v in values]
    results = run_js("canonicalize", texts)
    accepted = 0
    for value, result in zip(values, results, strict=True):
        expected = python_verdict(lambda v=value: encoding.encode(v).hex())
        assert js_verdict(result, "hex") == expected, (value, result)
        accepted += "ok" in expected
    # Both branches are exercised in earnest.
    assert 1000 < accepted < 2900, accepted


#: Bytes that mutations insert: whitespace, JSON syntax, number parts, escapes, invalid UTF-8.
INSERTS = [b" ", b"\t", b"\n", b",", b":", b"[", b"]", b"{", b"}", b'"', b"\\", b"u", b"0", b"1",
           b"-", b".", b"e", b"E", b"+", b"NaN", b"\\u0041", b"\\ud800", b"\xff", b"\xc3",
           b"\xef\xbb\xbf", b"e\xcc\x81", b'"a":1', b"null"]  # fmt: skip


def _mutate(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    kind = rng.randrange(4)
    if kind == 0 and data:
        at = min(at, len(data) - 1)
        return data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]
    if kind == 1:
        return data[:at] + rng.choice(INSERTS) + data[at:]
    if kind == 2:
        return data[:at] + data[at + rng.randrange(1, 4) :]
    end = rng.randrange(at, len(data) + 1)
    return data[:at] + data[at:end] * 2 + data[end:]


def _other_spelling(rng: random.Random, value: Any) -> bytes:
    """Plain JSON for ``value``: with spaces, with ASCII escapes, or with unsorted keys."""
    form = rng.randrange(3)
    if form == 0:
        return json.dumps(value, ensure_ascii=False, sort_keys=True).encode()
    if form == 1:
        return json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":")).encode()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def test_decoder_gives_the_python_decoders_verdict_on_mutated_inputs() -> None:
    rng = random.Random(14)
    inputs: list[bytes] = []
    while len(inputs) < 3000:
        value = _value(rng)
        try:
            data = encoding.encode(value)
        except MvoteError:
            continue
        if rng.randrange(2):  # a JSON spelling of the same value that is not the canonical one
            data = _other_spelling(rng, value)
        for _ in range(rng.randrange(3)):
            data = _mutate(rng, data)
        inputs.append(data)
    results = run_js("decode", [d.hex() for d in inputs])
    codes: dict[str, int] = {}
    for data, result in zip(inputs, results, strict=True):
        expected = python_verdict(
            lambda d=data: encoding.encode(encoding.decode(d, max_size=MIB)).hex()
        )
        assert js_verdict(result, "hex") == expected, (data, result)
        key = expected.get("error", "OK")
        codes[key] = codes.get(key, 0) + 1
    assert all(codes.get(code, 0) > 100 for code in ("OK", "MALFORMED", "NON_CANONICAL")), codes


# --- keys and signatures: libsodium's verdicts -----------------------------------------------


def _torsion_points() -> list[bytes]:
    """The eight small-order points (test_contract_cast.py's list, as bytes)."""
    return [
        bytes.fromhex(h)
        for h in (
            "0100000000000000000000000000000000000000000000000000000000000000",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000080",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        )
    ]


def test_public_key_checks_agree_with_libsodium() -> None:
    rng = random.Random(25519)
    candidates = [rng.randbytes(32) for _ in range(200)]
    valid = [bytes(nacl.signing.SigningKey(rng.randbytes(32)).verify_key) for _ in range(60)]
    torsion = _torsion_points()
    candidates += valid + torsion
    # On the curve but outside the prime-order subgroup: a valid key plus a torsion point.
    candidates += [
        nacl.bindings.crypto_core_ed25519_add(key, rng.choice(torsion[1:])) for key in valid[:40]
    ]
    # Non-canonical spellings: y >= p, and the sign bit flipped.
    p = 2**255 - 19
    candidates += [(p + i).to_bytes(32, "little") for i in range(19)]
    candidates += [key[:31] + bytes([key[31] ^ 0x80]) for key in valid[:20]]
    results = run_js("validKey", [c.hex() for c in candidates])
    verdicts = {True: 0, False: 0}
    for key, result in zip(candidates, results, strict=True):
        expected = python_verdict(lambda k=key: ed25519.checked_public_key(k, "key").hex())
        assert js_verdict(result, "hex") == expected, (key.hex(), result)
        verdicts["ok" in expected] += 1
    assert verdicts[True] >= 80 and verdicts[False] >= 150, verdicts


def test_ballot_signature_checks_agree_with_libsodium() -> None:
    rng = random.Random(8032)
    items: list[dict[str, Any]] = []
    for i in range(40):
        key = nacl.signing.SigningKey(rng.randbytes(32))
        fields = {
            "type": "mvote.ballot.v1",
            "channel": "mvote",
            "qid": f"q{i}",
            "choices": sorted(rng.sample(range(10), rng.randrange(4))),
            "voter": bytes(key.verify_key).hex(),
        }
        sig = key.sign(encoding.encode(fields)).signature
        s = int.from_bytes(sig[32:], "little")
        flipped = bytearray(sig)
        flipped[rng.randrange(64)] ^= 1 << rng.randrange(8)
        for variant in (
            sig,
            sig[:32] + (s + L).to_bytes(32, "little"),  # the same S, not reduced
            rng.choice(_torsion_points()) + sig[32:],  # a small-order R
            bytes(flipped),
        ):
            items.append({"fields": fields, "sig": variant.hex()})
        items.append({"fields": {**fields, "qid": f"x{i}"}, "sig": sig.hex()})

    def python(item: dict[str, Any]) -> str:
        fields = item["fields"]
        data = encoding.encode(fields)
        voter = ed25519.checked_public_key(bytes.fromhex(fields["voter"]), "ballot.voter")
        ed25519.verify(voter, data, bytes.fromhex(item["sig"]), "sig")
        return encoding.digest(fields).hex()

    results = run_js("verify", items)
    accepted = 0
    for item, result in zip(items, results, strict=True):
        expected = python_verdict(lambda it=item: python(it))
        assert js_verdict(result, "tracker") == expected, (item, result)
        accepted += "ok" in expected
    assert accepted == 40


# --- ballots prepared in JavaScript, accepted by the Python contract -------------------------

T_SETUP, T_OPEN, T_VOTE = 10, 11, 500
CODE = "SITE-4242"
SALT = bytes(range(16))
SHARDS = {"q-roster": 4, "q-open": 3, "q-onsite": 1}


def _seed(i: int) -> bytes:
    return i.to_bytes(4, "big") * 8


def _ok(ledger: SerialLedger, creator: bytes, function: str, *args: bytes | str, at: int) -> Any:
    executed = ledger.run(creator, function, *args, timestamp=at)
    assert executed.ok, executed.response.message
    return executed.payload()


def _spec(qid: str, rule: dict[str, Any], eligibility: dict[str, Any], shards: int) -> bytes:
    return encoding.encode(
        {
            "qid": qid,
            "title": f"Question {qid}",
            "description": "",
            "options": ["alpha", "beta", "gamma", "delta"],
            "rule": rule,
            "eligibility": eligibility,
            "schedule": {"opens_at": 100, "closes_at": 1000},
            "mode": "open",
            "shards": shards,
        }
    )


def _ledger_with_questions(registrar: nacl.signing.SigningKey) -> SerialLedger:
    """A roster of voters 1..6 and three open questions: q-roster (single, 4 shards), q-open
    (up to 3 of 4, registrar credentials), q-onsite (single, roster plus an on-site code)."""
    ledger = SerialLedger("mvote")
    admin = creator_bytes("Org1MSP", "admin")
    roster = {"rid": "r1", "title": "Roster one"}
    _ok(ledger, admin, "CreateRoster", encoding.encode(roster), at=T_SETUP)
    entries = sorted(
        keys.voter_hash(bytes(nacl.signing.SigningKey(_seed(i)).verify_key)).hex()
        for i in range(1, 7)
    )
    _ok(ledger, admin, "AddRosterEntries", encoding.encode({"rid": "r1", "entries": entries}), at=T_SETUP)  # fmt: skip
    _ok(ledger, admin, "SealRoster", "r1", at=T_SETUP)
    by_roster = {"kind": "roster", "roster": "r1"}
    registrars = [bytes(registrar.verify_key).hex()]
    onsite = {
        "kind": "onsite",
        "base": by_roster,
        "code_salt": SALT.hex(),
        "code_hash": onsite_code_hash(SALT, "q-onsite", CODE).hex(),
    }
    multi = {"kind": "multi", "min": 1, "max": 3}
    for qid, rule, eligibility in (
        ("q-roster", {"kind": "single"}, by_roster),
        ("q-open", multi, {"kind": "open", "registrars": registrars}),
        ("q-onsite", {"kind": "single"}, onsite),
    ):
        _ok(ledger, admin, "CreateQuestion", _spec(qid, rule, eligibility, SHARDS[qid]), at=T_SETUP)
        _ok(ledger, admin, "OpenQuestion", qid, at=T_OPEN)
    return ledger


def test_ballots_prepared_in_javascript_are_accepted_by_the_python_contract() -> None:
    registrar = nacl.signing.SigningKey(b"R" * 32)
    ledger = _ledger_with_questions(registrar)
    client = creator_bytes("Org1MSP", "client")
    casts: list[tuple[int, str, list[int], dict[str, Any] | None, str | None]] = [
        (1, "q-roster", [2], None, None),
        (2, "q-roster", [0], None, None),
        (3, "q-open", [3, 0, 1], {}, None),
        (4, "q-onsite", [1], None, CODE),
    ]
    items = []
    expected_requests = []
    for voter, qid, choices, credential, code in casts:
        question = _ok(ledger, client, "GetQuestion", qid, at=T_VOTE)
        key = nacl.signing.SigningKey(_seed(voter))
        signed = None
        if credential is not None:
            signed = issue_credential(
                registrar, channel="mvote", voter=bytes(key.verify_key).hex(), expires_at=2000
            )
        reference = prepare_ballot(
            key,
            channel="mvote",
            question=Question.from_json(question).spec,
            choices=choices,
            credential=signed,
            code=code,
        )
        expected_requests.append(encoding.encode(reference.to_json()))
        js_input: dict[str, Any] = {"channel": "mvote", "question": question, "choices": choices}
        if signed is not None:
            js_input["credential"] = signed.to_json()
        if code is not None:
            js_input["code"] = code
        items.append({"seed_hex": _seed(voter).hex(), "input": js_input})

    results = run_js("prepare", items)
    for (_, qid, _, _, _), result, expected in zip(casts, results, expected_requests, strict=True):
        assert "error" not in result, result
        request = bytes.fromhex(result["request_hex"])
        assert request == expected  # byte for byte what the Python client sends
        executed = ledger.run(client, "Cast", request, timestamp=T_VOTE)
        assert executed.ok, executed.response.message
        cast = executed.payload()
        assert cast["tracker"] == result["tracker"]
        voter_hex = result["fields"]["voter"]
        record = _ok(ledger, client, "GetBallot", qid, voter_hex, at=T_VOTE)
        assert record["tracker"] == result["tracker"]
        assert record["sig"] == result["signature"]
        assert record["ballot"] == result["fields"]
        assert cast["shard"] == keys.shard_of(bytes.fromhex(voter_hex), SHARDS[qid])
        history = _ok(ledger, client, "GetHistory", voter_hex, at=T_VOTE)
        assert [h["tracker"] for h in history] == [result["tracker"]]


def test_the_contract_refuses_a_javascript_ballot_for_another_channel_or_a_second_time() -> None:
    ledger = _ledger_with_questions(nacl.signing.SigningKey(b"R" * 32))
    client = creator_bytes("Org1MSP", "client")
    question = _ok(ledger, client, "GetQuestion", "q-roster", at=T_VOTE)
    items = [
        {"seed_hex": _seed(5).hex(), "input": {"channel": c, "question": question, "choices": [0]}}
        for c in ("elsewhere", "mvote")
    ]
    elsewhere, here = run_js("prepare", items)
    before = state_bytes(ledger)
    refused = ledger.run(client, "Cast", bytes.fromhex(elsewhere["request_hex"]), timestamp=T_VOTE)
    assert refused.response.status == 400
    assert refused.response.message.startswith("WRONG_CHANNEL: ballot.channel: ")
    assert state_bytes(ledger) == before
    assert ledger.run(client, "Cast", bytes.fromhex(here["request_hex"]), timestamp=T_VOTE).ok
    again = ledger.run(client, "Cast", bytes.fromhex(here["request_hex"]), timestamp=T_VOTE)
    assert again.response.message.startswith("ALREADY_VOTED: ballot.voter: ")


# --- on the real embedded node: gRPC, LevelDB, a receipt the voter verifies offline ----------


def test_a_javascript_ballot_commits_on_the_embedded_node_with_a_verified_receipt(
    tmp_path: Path,
) -> None:
    from mvote.client._blocks import BlockFetcher
    from mvote.client._gateway import Gateway
    from mvote.client._identity import load_signer
    from mvote.client._receipt import issue_receipt
    from mvote.node.material import init_network
    from mvote.node.runtime import Node
    from mvote.node.services.server import NodeServer
    from mvote.verifier._receipt import verify_receipt

    registrar = nacl.signing.SigningKey(b"R" * 32)
    voter = nacl.signing.SigningKey(_seed(9))
    now = int(time.time())
    spec = {
        "qid": "q-js",
        "title": "Prepared in JavaScript",
        "description": "",
        "options": ["yes", "no", "maybe"],
        "rule": {"kind": "single"},
        "eligibility": {"kind": "open", "registrars": [bytes(registrar.verify_key).hex()]},
        "schedule": {"opens_at": now - 60, "closes_at": now + 3600},
        "mode": "open",
        "shards": 2,
    }
    material = init_network(tmp_path / "network", "cityhall,district")
    node = Node.open(tmp_path / "network")
    node.start()
    server = NodeServer(node, port=0, tls=False).start()
    try:
        admin, client = material.org("cityhall").admin, material.org("district").client
        with Gateway.connect(server.address, load_signer(admin.msp_dir, admin.msp_id)) as gw:
            contract = gw.network("mvote").contract("mvote")
            contract.submit("CreateQuestion", [encoding.encode(spec)], commit_timeout=30)
            contract.submit("OpenQuestion", ["q-js"], commit_timeout=30)
        credential = issue_credential(
            registrar,
            channel="mvote",
            voter=bytes(voter.verify_key).hex(),
            expires_at=now + 3600,
        )
        with Gateway.connect(server.address, load_signer(client.msp_dir, client.msp_id)) as gw:
            network = gw.network("mvote")
            contract = network.contract("mvote")
            question = json.loads(contract.evaluate("GetQuestion", ["q-js"]))
            js_input = {
                "channel": "mvote",
                "question": question,
                "choices": [2],
                "credential": credential.to_json(),
            }
            (prepared,) = run_js("prepare", [{"seed_hex": _seed(9).hex(), "input": js_input}])
            submitted = contract.submit_async("Cast", [bytes.fromhex(prepared["request_hex"])])
            status = submitted.status(timeout=30)
            assert status.successful, status
            assert json.loads(submitted.result)["tracker"] == prepared["tracker"]
            receipt = issue_receipt(
                BlockFetcher(network),
                tx_id=status.transaction_id,
                block_number=status.block_number,
                qid="q-js",
                tracker=prepared["tracker"],
            )
        # The trust anchor the city publishes: the genesis hash of the network's material.
        report = verify_receipt(receipt, anchor=material.genesis_hash)
        assert report.verified, [c for c in report.checks if not c.ok]
        assert receipt.tracker == prepared["tracker"]
    finally:
        server.stop(grace=1)
        node.stop()
