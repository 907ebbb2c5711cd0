"""Write the secret-ballot test vectors (tests/vectors/crypto_*.json) from the reference code.

Run from the repository root: ``.venv/bin/python tests/vectors/generate_crypto.py``. The committed
files are the reference: tests/unit/crypto/test_crypto_vectors.py recomputes every vector from
its inputs and checks that this script still writes the files byte for byte. Regenerating is a
protocol change: review the diff. docs/secret-ballots.md specifies every formula used here.

Deterministic: every secret scalar is ``SHA-512(UTF-8 label) mod L`` for a fixed label, and is
written out in the vectors (64 hex digits, little-endian), so another implementation needs
no part of this script.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mvote.chaincode import encoding
from mvote.chaincode._crypto import ballot, ceremony, elgamal, group, proofs
from mvote.chaincode._crypto.group import IDENTITY, G, H, L
from mvote.chaincode._errors import MvoteError

#: The field prime of curve25519 (non-canonical encodings are y >= p); the script needs nothing
#: from tests/, so it states the constant itself.
FIELD_PRIME = 2**255 - 19

HERE = Path(__file__).resolve().parent


def scalar(label: str) -> int:
    return group.reduce_wide(hashlib.sha512(label.encode()).digest())


def sx(s: int) -> str:
    return group.scalar_hex(s)


def seed(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


# --- group ------------------------------------------------------------------------------------


def group_vectors() -> list[dict[str, Any]]:
    a, b = scalar("group/a"), scalar("group/b")
    pa, pb = group.base_mul(a), group.base_mul(b)
    out: list[dict[str, Any]] = [
        {"name": "G", "op": "base_mul", "scalar": sx(1), "result": G.hex()},
        {"name": "identity: 0·G", "op": "base_mul", "scalar": sx(0), "result": IDENTITY.hex()},
        {"name": "(L-1)·G = -G", "op": "base_mul", "scalar": sx(L - 1), "result": (-G).hex()},
        {"name": "a·G", "op": "base_mul", "scalar": sx(a), "result": pa.hex()},
        {
            "name": "b·(a·G)",
            "op": "mul",
            "scalar": sx(b),
            "point": pa.hex(),
            "result": (b * pa).hex(),
        },
        {"name": "0·P", "op": "mul", "scalar": sx(0), "point": pa.hex(), "result": IDENTITY.hex()},
        {
            "name": "s·O",
            "op": "mul",
            "scalar": sx(b),
            "point": IDENTITY.hex(),
            "result": IDENTITY.hex(),
        },
        {"name": "a·H", "op": "mul", "scalar": sx(a), "point": H.hex(), "result": (a * H).hex()},
        {"name": "P + Q", "op": "add", "p": pa.hex(), "q": pb.hex(), "result": (pa + pb).hex()},
        {"name": "P + O", "op": "add", "p": pa.hex(), "q": IDENTITY.hex(), "result": pa.hex()},
        {
            "name": "P + (-P)",
            "op": "add",
            "p": pa.hex(),
            "q": (-pa).hex(),
            "result": IDENTITY.hex(),
        },
        {"name": "P - Q", "op": "sub", "p": pa.hex(), "q": pb.hex(), "result": (pa - pb).hex()},
        {"name": "O - P", "op": "sub", "p": IDENTITY.hex(), "q": pa.hex(), "result": (-pa).hex()},
        {"name": "-P", "op": "neg", "p": pa.hex(), "result": (-pa).hex()},
    ]
    return out


def _rejected_point_inputs() -> list[tuple[str, bytes, bool]]:
    import nacl.bindings as sodium

    order8 = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
    off_curve = next(
        y.to_bytes(32, "little")
        for y in range(2, 100)
        if not _on_curve(sodium, y.to_bytes(32, "little"))
    )
    return [
        ("identity where refused", IDENTITY.encoded, False),
        ("order 2: (0, -1)", bytes.fromhex("ec" + "ff" * 30 + "7f"), True),
        ("order 4: y = 0", bytes(32), True),
        ("order 8", order8, True),
        (
            "G + a point of order 8 (off the subgroup)",
            sodium.crypto_core_ed25519_add(G.encoded, order8),
            True,
        ),
        ("not on the curve", off_curve, True),
        ("y = p + 3 (non-canonical)", (FIELD_PRIME + 3).to_bytes(32, "little"), True),
        ("y = 2^255 - 1 (non-canonical)", bytes([0xFF] * 31 + [0x7F]), True),
    ]


def _on_curve(sodium: Any, data: bytes) -> bool:
    try:
        sodium.crypto_core_ed25519_add(data, G.encoded)
    except Exception:
        return False
    return True


def rejected_point_vectors() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, data, allow_identity in _rejected_point_inputs():
        try:
            group.decode_point(data, "p", allow_identity=allow_identity)
        except MvoteError as exc:
            out.append(
                {
                    "name": name,
                    "input_hex": data.hex(),
                    "allow_identity": allow_identity,
                    "error": exc.code,
                }
            )
        else:
            raise AssertionError(f"{name}: accepted")
    for name, text in (
        ("uppercase hex", H.hex().upper()),
        ("31 bytes", G.hex()[:62]),
        ("scalar = L", L.to_bytes(32, "little").hex()),
        ("scalar = 2^256 - 1", "ff" * 32),
    ):
        kind = "scalar" if name.startswith("scalar") else "point"
        try:
            if kind == "scalar":
                group.scalar_from_hex(text, "s")
            else:
                group.point_from_hex(text, "p")
        except MvoteError as exc:
            out.append({"name": name, "kind": kind, "input": text, "error": exc.code})
        else:
            raise AssertionError(f"{name}: accepted")
    return out


def hash_vectors() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tag, data in (("generator", b"H"), ("test", b""), ("test", bytes(range(40)))):
        t = group.Transcript(tag).data(data)
        out.append(
            {
                "name": f"hash_to_point {tag!r}",
                "tag": tag,
                "data_hex": data.hex(),
                "transcript_hex": t.raw().hex(),
                "uniform_hex": t.digest()[:32].hex(),
                "point": group.hash_to_point(tag, data).hex(),
            }
        )
    t = group.Transcript("example").point(G).scalar(7).u32(3).text("q1").data(b"\x01\x02")
    out.append(
        {
            "name": "transcript and challenge",
            "tag": "example",
            "items": [
                {"point": G.hex()},
                {"scalar": sx(7)},
                {"u32": 3},
                {"text": "q1"},
                {"data_hex": "0102"},
            ],
            "transcript_hex": t.raw().hex(),
            "challenge": sx(t.scalar_challenge()),
        }
    )
    return out


# --- ElGamal ----------------------------------------------------------------------------------


def elgamal_vectors() -> list[dict[str, Any]]:
    secret = scalar("elgamal/secret")
    key = elgamal.keypair(secret)
    out: list[dict[str, Any]] = []
    cts = []
    for i, m in enumerate((0, 1, 1, 5)):
        r = scalar(f"elgamal/nonce/{i}")
        ct = elgamal.encrypt(m, key, r)
        cts.append(ct)
        out.append(
            {
                "name": f"encrypt {m}",
                "secret": sx(secret),
                "key": key.hex(),
                "plaintext": m,
                "nonce": sx(r),
                "ciphertext": ct.to_json(),
            }
        )
    total = elgamal.sum_ciphertexts(cts)
    out.append(
        {
            "name": "homomorphic sum of the above",
            "secret": sx(secret),
            "key": key.hex(),
            "ciphertexts": [c.to_json() for c in cts],
            "sum": total.to_json(),
            "plaintext": elgamal.decrypt(total, secret, len(cts) * 5),
        }
    )
    return out


# --- proofs -----------------------------------------------------------------------------------


def proof_vectors() -> list[dict[str, Any]]:
    secret = scalar("proofs/election-secret")
    key = elgamal.keypair(secret)
    context = hashlib.sha512(b"example context").digest()
    x, u = scalar("proofs/x"), scalar("proofs/u")
    out: list[dict[str, Any]] = [
        {
            "name": "schnorr",
            "kind": "schnorr",
            "context_hex": context.hex(),
            "secret": sx(x),
            "nonce": sx(u),
            "public": group.base_mul(x).hex(),
            "proof": proofs.schnorr_prove(context, x, u).to_json(),
        },
        {
            "name": "chaum-pedersen, bases G and H",
            "kind": "chaum-pedersen",
            "context_hex": context.hex(),
            "secret": sx(x),
            "nonce": sx(u),
            "b1": G.hex(),
            "x1": group.base_mul(x).hex(),
            "b2": H.hex(),
            "x2": (x * H).hex(),
            "proof": proofs.cp_prove(context, G, H, x, u).to_json(),
        },
    ]
    for m in (0, 1):
        r = scalar(f"proofs/r/{m}")
        ct = elgamal.encrypt(m, key, r)
        w, c_fake, v_fake = (scalar(f"proofs/zero-one/{m}/{n}") for n in ("w", "c", "v"))
        out.append(
            {
                "name": f"zero-or-one, plaintext {m}",
                "kind": "zero-or-one",
                "context_hex": context.hex(),
                "key": key.hex(),
                "plaintext": m,
                "nonce": sx(r),
                "ciphertext": ct.to_json(),
                "proof_nonce": sx(w),
                "fake_challenge": sx(c_fake),
                "fake_response": sx(v_fake),
                "proof": proofs.zero_one_prove(context, key, ct, m, r, w, c_fake, v_fake).to_json(),
            }
        )
    for lo, hi, value in ((1, 1, 1), (0, 3, 2), (2, 1000, 700)):
        r = scalar(f"proofs/range/{lo}/{hi}")
        total = elgamal.encrypt(value, key, r)
        s = seed(f"proofs/range/{lo}/{hi}")
        proof = proofs.range_prove(group.Nonces(s), context, key, total, value, r, lo, hi)
        out.append(
            {
                "name": f"range {lo}..{hi}, value {value}",
                "kind": "range",
                "context_hex": context.hex(),
                "key": key.hex(),
                "lo": lo,
                "hi": hi,
                "value": value,
                "nonce": sx(r),
                "seed_hex": s.hex(),
                "weights": proofs.range_weights(hi - lo),
                "total": total.to_json(),
                "proof": proof.to_json(),
            }
        )
    return out


# --- ballots ----------------------------------------------------------------------------------


def ballot_vectors() -> list[dict[str, Any]]:
    secret = scalar("ballots/election-secret")
    key = elgamal.keypair(secret)
    voter = bytes(range(32))
    out: list[dict[str, Any]] = []
    for question, options, lo, hi, choices in (
        ("single", 5, 1, 1, [2]),
        ("up-to-3", 8, 0, 3, [0, 5, 7]),
        ("yesno", 2, 1, 1, [0]),
    ):
        ctx = ballot.BallotContext(key, "mvote", question, voter, options, lo, hi)
        s = seed(f"ballots/{question}")
        b = ballot.encrypt_ballot(ctx, choices, s)
        data = encoding.encode(b.to_json())
        out.append(
            {
                "name": f"{question}: {choices} of {options} options, {lo}..{hi}",
                "election_key": key.hex(),
                "secret": sx(secret),
                "channel": "mvote",
                "question": question,
                "voter_hex": voter.hex(),
                "options": options,
                "min": lo,
                "max": hi,
                "choices": choices,
                "seed_hex": s.hex(),
                "header_hex": ctx.header().hex(),
                "digest_hex": ctx.digest(b.ciphertexts()).hex(),
                "ballot": b.to_json(),
                "canonical_sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    return out


# --- ceremony ---------------------------------------------------------------------------------


def ceremony_vectors() -> list[dict[str, Any]]:
    params = ceremony.CeremonyParams("mvote", "ceremony-1", 3, 2)
    n, k = params.n, params.k
    ids = range(1, n + 1)
    t_secret = {i: scalar(f"ceremony/trustee/{i}") for i in ids}
    t_nonce = {i: scalar(f"ceremony/trustee-nonce/{i}") for i in ids}
    keys = {i: ceremony.trustee_key(params, i, t_secret[i], t_nonce[i]) for i in ids}
    coefs = {i: [scalar(f"ceremony/coef/{i}/{j}") for j in range(k)] for i in ids}
    d_nonces = {i: [scalar(f"ceremony/deal-nonce/{i}/{j}") for j in range(k)] for i in ids}
    dealings = [ceremony.deal(params, i, coefs[i], d_nonces[i]) for i in ids]
    shares = []
    for d in ids:
        for r in ids:
            if d == r:
                continue
            e = scalar(f"ceremony/ephemeral/{d}/{r}")
            value = ceremony.evaluate(coefs[d], r)
            enc = ceremony.encrypt_share(params, d, keys[r], value, e)
            shares.append(
                {"ephemeral_secret": sx(e), "share": sx(value), "encrypted": enc.to_json()}
            )
    key = ceremony.election_key(params, dealings)
    secret_shares = {
        t: ceremony.secret_share(ceremony.evaluate(coefs[d], t) for d in ids) for t in ids
    }
    public = {t: ceremony.public_share(params, dealings, t) for t in ids}
    votes = [1, 0, 1, 1]
    ct = elgamal.sum_ciphertexts(
        elgamal.encrypt(v, key, scalar(f"ceremony/vote/{i}")) for i, v in enumerate(votes)
    )
    present = [1, 3]  # trustee 2 is absent
    partials = [
        ceremony.partial_decrypt(
            params, t, secret_shares[t], ct, "q1/0", scalar(f"ceremony/partial/{t}")
        )
        for t in present
    ]
    lambdas = ceremony.lagrange_coefficients(present)
    return [
        {
            "name": "2-of-3 ceremony, trustee 2 absent at decryption",
            "params": params.to_json(),
            "context_hex": params.context().hex(),
            "trustees": [
                {
                    "index": i,
                    "secret": sx(t_secret[i]),
                    "nonce": sx(t_nonce[i]),
                    "key": keys[i].to_json(),
                    "coefficients": [sx(a) for a in coefs[i]],
                    "nonces": [sx(u) for u in d_nonces[i]],
                    "dealing": dealings[i - 1].to_json(),
                    "secret_share": sx(secret_shares[i]),
                    "public_share": public[i].hex(),
                }
                for i in ids
            ],
            "shares": shares,
            "election_key": key.hex(),
            "ciphertext": ct.to_json(),
            "label": "q1/0",
            "partial_nonces": {str(t): sx(scalar(f"ceremony/partial/{t}")) for t in present},
            "partials": [p.to_json() for p in partials],
            "lagrange": {str(t): sx(lam) for t, lam in lambdas.items()},
            "plaintext": ceremony.threshold_decrypt(
                params, public, ct, partials, "q1/0", len(votes), "partials"
            ),
        }
    ]


FILES: dict[str, tuple[str, Any]] = {
    "crypto_group.json": (
        "edwards25519 prime-order subgroup: base_mul/mul/add/sub/neg on canonical 32-byte encodings (hex); the identity is 01 00..00 and 0·P = s·O = O. Scalars are 32 bytes little-endian below L.",
        group_vectors,
    ),
    "crypto_rejected.json": (
        "Encodings decode_point/point_from_hex/scalar_from_hex must refuse, with the error code (allow_identity: whether the identity would be admitted there).",
        rejected_point_vectors,
    ),
    "crypto_hash.json": (
        "Transcripts (u16be(len(tag)) || tag, then points/scalars as 32 bytes, u32 as 4 bytes big-endian, text/data as u32be(len) || bytes; tag prefixed 'mvote/crypto/v1/'), challenge = SHA-512 mod L, and hash_to_point = from_uniform(SHA-512(transcript(tag, data))[0:32]).",
        hash_vectors,
    ),
    "crypto_elgamal.json": (
        "Exponential ElGamal: (alpha, beta) = (r·G, m·G + r·K), K = s·G; sums add component-wise.",
        elgamal_vectors,
    ),
    "crypto_proofs.json": (
        "Schnorr, Chaum-Pedersen, disjunctive 0/1 (explicit nonces) and range proofs (nonces derived from seed_hex) as specified in docs/secret-ballots.md.",
        proof_vectors,
    ),
    "crypto_ballots.json": (
        "Encrypted ballots: the context, the secret seed every nonce derives from, the ballot digest and the ballot's JSON (canonical_sha256 is SHA-256 of its RFC 8785 bytes).",
        ballot_vectors,
    ),
    "crypto_ceremony.json": (
        "A 2-of-3 key ceremony: trustee keys, dealings, encrypted shares, the election key, public shares, and a threshold decryption with one trustee absent.",
        ceremony_vectors,
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
