"""The committed secret-ballot vectors (tests/vectors/crypto_*.json) are the reference: the code
must reproduce each one from its inputs, verify every proof in them, and the generator must
rewrite the files byte for byte."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from mvote.chaincode import encoding
from mvote.chaincode._crypto import ballot, ceremony, elgamal, group, proofs
from mvote.chaincode._crypto.elgamal import Ciphertext
from mvote.chaincode._crypto.group import point_from_hex, scalar_from_hex
from mvote.chaincode._errors import MvoteError

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
NAMES = [
    "crypto_ballots.json",
    "crypto_ceremony.json",
    "crypto_elgamal.json",
    "crypto_group.json",
    "crypto_hash.json",
    "crypto_proofs.json",
    "crypto_rejected.json",
]


def _load(name: str) -> list[dict[str, Any]]:
    document = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    assert set(document) == {"description", "vectors"} and document["vectors"]
    vectors: list[dict[str, Any]] = document["vectors"]
    return vectors


def _p(value: str) -> group.Point:
    return point_from_hex(value, "v", allow_identity=True)


def _s(value: str) -> int:
    return scalar_from_hex(value, "v")


def test_the_files_are_there() -> None:
    assert sorted(p.name for p in VECTORS.glob("crypto_*.json")) == NAMES


def test_the_generator_reproduces_the_committed_files() -> None:
    spec = importlib.util.spec_from_file_location(
        "mvote_vectors_generate_crypto", VECTORS / "generate_crypto.py"
    )
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    built = generate.build()
    assert sorted(built) == NAMES
    for name, document in built.items():
        assert generate.render(document) == (VECTORS / name).read_text(encoding="utf-8"), name


def test_group() -> None:
    for v in _load("crypto_group.json"):
        op = v["op"]
        if op == "base_mul":
            got = group.base_mul(_s(v["scalar"]))
        elif op == "mul":
            got = group.mul(_s(v["scalar"]), _p(v["point"]))
        elif op == "add":
            got = _p(v["p"]) + _p(v["q"])
        elif op == "sub":
            got = _p(v["p"]) - _p(v["q"])
        else:
            got = -_p(v["p"])
        assert got.hex() == v["result"], v["name"]


def test_rejected() -> None:
    for v in _load("crypto_rejected.json"):
        with pytest.raises(MvoteError) as err:
            if "input_hex" in v:
                group.decode_point(
                    bytes.fromhex(v["input_hex"]), "p", allow_identity=v["allow_identity"]
                )
            elif v["kind"] == "scalar":
                group.scalar_from_hex(v["input"], "s")
            else:
                group.point_from_hex(v["input"], "p")
        assert err.value.code == v["error"], v["name"]


def test_hash() -> None:
    for v in _load("crypto_hash.json"):
        t = group.Transcript(v["tag"])
        if "items" in v:
            for item in v["items"]:
                ((kind, value),) = item.items()
                if kind == "point":
                    t.point(_p(value))
                elif kind == "scalar":
                    t.scalar(_s(value))
                elif kind == "u32":
                    t.u32(value)
                elif kind == "text":
                    t.text(value)
                else:
                    t.data(bytes.fromhex(value))
            assert t.raw().hex() == v["transcript_hex"]
            assert group.scalar_hex(t.scalar_challenge()) == v["challenge"]
        else:
            data = bytes.fromhex(v["data_hex"])
            assert t.data(data).raw().hex() == v["transcript_hex"]
            assert t.digest()[:32].hex() == v["uniform_hex"]
            assert group.hash_to_point(v["tag"], data).hex() == v["point"]


def test_elgamal() -> None:
    for v in _load("crypto_elgamal.json"):
        secret, key = _s(v["secret"]), point_from_hex(v["key"], "key")
        assert elgamal.keypair(secret) == key
        if "nonce" in v:
            ct = elgamal.encrypt(v["plaintext"], key, _s(v["nonce"]))
            assert ct.to_json() == v["ciphertext"]
        else:
            cts = [Ciphertext.from_json(c, "c") for c in v["ciphertexts"]]
            total = elgamal.sum_ciphertexts(cts)
            assert total.to_json() == v["sum"]
            assert elgamal.decrypt(total, secret, 100) == v["plaintext"]


def test_proofs() -> None:
    for v in _load("crypto_proofs.json"):
        context = bytes.fromhex(v["context_hex"])
        kind = v["kind"]
        if kind == "schnorr":
            proof = proofs.schnorr_prove(context, _s(v["secret"]), _s(v["nonce"]))
            assert proof.to_json() == v["proof"]
            proofs.schnorr_verify(context, _p(v["public"]), proof, "p")
        elif kind == "chaum-pedersen":
            b1, b2 = _p(v["b1"]), _p(v["b2"])
            cp = proofs.cp_prove(context, b1, b2, _s(v["secret"]), _s(v["nonce"]))
            assert cp.to_json() == v["proof"]
            proofs.cp_verify(context, b1, _p(v["x1"]), b2, _p(v["x2"]), cp, "p")
        elif kind == "zero-or-one":
            key = _p(v["key"])
            ct = elgamal.encrypt(v["plaintext"], key, _s(v["nonce"]))
            assert ct.to_json() == v["ciphertext"]
            zo = proofs.zero_one_prove(
                context,
                key,
                ct,
                v["plaintext"],
                _s(v["nonce"]),
                _s(v["proof_nonce"]),
                _s(v["fake_challenge"]),
                _s(v["fake_response"]),
            )
            assert zo.to_json() == v["proof"]
            proofs.zero_one_verify(context, key, ct, proofs.ZeroOne.from_json(v["proof"], "p"), "p")
        else:
            key = _p(v["key"])
            total = elgamal.encrypt(v["value"], key, _s(v["nonce"]))
            assert total.to_json() == v["total"]
            assert proofs.range_weights(v["hi"] - v["lo"]) == v["weights"]
            nonces = group.Nonces(bytes.fromhex(v["seed_hex"]))
            rp = proofs.range_prove(
                nonces, context, key, total, v["value"], _s(v["nonce"]), v["lo"], v["hi"]
            )
            assert rp.to_json() == v["proof"]
            proofs.range_verify(
                context,
                key,
                total,
                v["lo"],
                v["hi"],
                proofs.RangeProof.from_json(v["proof"], "p"),
                "p",
            )


def test_ballots() -> None:
    for v in _load("crypto_ballots.json"):
        ctx = ballot.BallotContext(
            point_from_hex(v["election_key"], "k"),
            v["channel"],
            v["question"],
            bytes.fromhex(v["voter_hex"]),
            v["options"],
            v["min"],
            v["max"],
        )
        assert ctx.header().hex() == v["header_hex"]
        decoded = ballot.EncryptedBallot.from_json(v["ballot"])
        ballot.verify_ballot(ctx, decoded)
        assert ctx.digest(decoded.ciphertexts()).hex() == v["digest_hex"]
        seed = bytes.fromhex(v["seed_hex"])
        made = ballot.encrypt_ballot(ctx, v["choices"], seed)
        assert made.to_json() == v["ballot"]
        ballot.audit_ballot(ctx, decoded, seed, v["choices"])
        secret = _s(v["secret"])
        assert [
            i for i, ct in enumerate(decoded.ciphertexts()) if elgamal.decrypt(ct, secret, 1)
        ] == (v["choices"])
        assert hashlib.sha256(encoding.encode(v["ballot"])).hexdigest() == v["canonical_sha256"]


def test_ceremony() -> None:
    (v,) = _load("crypto_ceremony.json")
    p = v["params"]
    params = ceremony.CeremonyParams(p["channel"], p["ceremony"], p["n"], p["k"])
    assert params.context().hex() == v["context_hex"]
    keys = {}
    dealings = []
    for t in v["trustees"]:
        i = t["index"]
        tk = ceremony.TrusteeKey.from_json(t["key"], "key", params)
        ceremony.verify_trustee_key(params, tk, "key")
        assert ceremony.trustee_key(params, i, _s(t["secret"]), _s(t["nonce"])) == tk
        keys[i] = tk
        d = ceremony.Dealing.from_json(t["dealing"], "dealing", params)
        ceremony.verify_dealing(params, d, "dealing")
        coefs = [_s(a) for a in t["coefficients"]]
        assert ceremony.deal(params, i, coefs, [_s(u) for u in t["nonces"]]) == d
        dealings.append(d)
    secrets = {t["index"]: _s(t["secret"]) for t in v["trustees"]}
    for s in v["shares"]:
        enc = ceremony.EncryptedShare.from_json(s["encrypted"], "share", params)
        share = ceremony.decrypt_share(
            params, enc, secrets[enc.recipient], dealings[enc.dealer - 1]
        )
        assert group.scalar_hex(share) == s["share"]
        again = ceremony.encrypt_share(
            params, enc.dealer, keys[enc.recipient], share, _s(s["ephemeral_secret"])
        )
        assert again == enc
    assert ceremony.election_key(params, dealings).hex() == v["election_key"]
    public = {}
    for t in v["trustees"]:
        public[t["index"]] = ceremony.public_share(params, dealings, t["index"])
        assert public[t["index"]].hex() == t["public_share"]
        assert group.base_mul(_s(t["secret_share"])) == public[t["index"]]
    ct = Ciphertext.from_json(v["ciphertext"], "ct")
    partials = [ceremony.PartialDecryption.from_json(x, "p", params) for x in v["partials"]]
    for pd in partials:
        t = next(t for t in v["trustees"] if t["index"] == pd.trustee)
        again = ceremony.partial_decrypt(
            params,
            pd.trustee,
            _s(t["secret_share"]),
            ct,
            v["label"],
            _s(v["partial_nonces"][str(pd.trustee)]),
        )
        assert again == pd
    lambdas = ceremony.lagrange_coefficients([pd.trustee for pd in partials])
    assert {str(t): group.scalar_hex(x) for t, x in lambdas.items()} == v["lagrange"]
    got = ceremony.threshold_decrypt(params, public, ct, partials, v["label"], 100, "partials")
    assert got == v["plaintext"]
