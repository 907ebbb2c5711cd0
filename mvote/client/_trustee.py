"""A trustee's side of the key ceremony and of the tally: keys, dealing, checking the shares
received, partial decryptions. All the randomness of the ceremony is drawn here
(``os.urandom``); the chaincode only checks.

The flow (each posting signed with the trustee's Ed25519 ``signer`` key, submitted by an
operator admin, endorsed like every other write):

1. ``new_trustee(channel, cid, n, k, index)`` on each trustee's device; the public
   ``registration()`` of all n goes into ``ceremony_spec`` → ``CreateCeremony``;
2. ``dealing_posting(trustee, registrations)`` → ``PostDealing``;
3. once all have dealt, ``check_posting(trustee, dealings)`` (the posted dealings, from
   ``dealing~{cid}~*`` of the verified chain, each re-checked: ``recipes.check_posting``)
   → ``PostCheck`` (complaints name bad dealers); the trustee keeps its ``secret_share``;
4. an admin runs ``CompleteCeremony(cid)``;
5. after the question closes and is aggregated: ``decryption_posting(trustee, qid, totals)``
   with the totals recomputed from the verified ballot records (``recipes.decryption_totals``)
   → ``PostDecryption``; then
   ``Tally(qid)`` once at least k trustees have posted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import nacl.signing

from mvote.chaincode import encoding
from mvote.chaincode._crypto import ceremony as cer
from mvote.chaincode._crypto import group
from mvote.chaincode._crypto.ceremony import CeremonyParams, Dealing, EncryptedShare
from mvote.chaincode._crypto.elgamal import Ciphertext
from mvote.chaincode._errors import BadShare
from mvote.chaincode._secret import CHECK_TYPE, DEALING_TYPE, DECRYPTION_TYPE, label


def random_scalar() -> int:
    while True:
        value = group.reduce_wide(os.urandom(64))
        if value:
            return value


@dataclass
class TrusteeSecrets:
    """Everything a trustee keeps on its own device (never posted)."""

    params: CeremonyParams
    index: int
    signer: nacl.signing.SigningKey
    key_secret: int
    coefficients: list[int] = field(default_factory=list)
    #: s_l, once every share received checked out.
    share: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The trustee's private state, for its own device only (secret keys in hex)."""
        return {
            "channel": self.params.channel,
            "ceremony": self.params.ceremony,
            "n": self.params.n,
            "k": self.params.k,
            "index": self.index,
            "signer": bytes(self.signer).hex(),
            "key_secret": group.scalar_hex(self.key_secret),
            "coefficients": [group.scalar_hex(a) for a in self.coefficients],
            "share": None if self.share is None else group.scalar_hex(self.share),
        }

    @staticmethod
    def from_json(value: Mapping[str, Any]) -> TrusteeSecrets:
        params = CeremonyParams(value["channel"], value["ceremony"], value["n"], value["k"])
        share = value["share"]
        return TrusteeSecrets(
            params,
            params.check_index(value["index"], "index"),
            nacl.signing.SigningKey(bytes.fromhex(value["signer"])),
            group.scalar_from_hex(value["key_secret"], "key_secret", nonzero=True),
            [group.scalar_from_hex(a, "coefficients") for a in value["coefficients"]],
            None if share is None else group.scalar_from_hex(share, "share"),
        )

    @property
    def public_key(self) -> group.Point:
        """The trustee's group key T = t·G, as its registration carries it."""
        return group.base_mul(self.key_secret)

    def registration(self) -> dict[str, Any]:
        """The trustee's public entry in CreateCeremony's spec: group key with its proof of
        possession, and the Ed25519 key its postings are signed with."""
        key = cer.trustee_key(self.params, self.index, self.key_secret, random_scalar())
        return {**key.to_json(), "signer": bytes(self.signer.verify_key).hex()}


def new_trustee(
    channel: str,
    cid: str,
    n: int,
    k: int,
    index: int,
    signer: nacl.signing.SigningKey | None = None,
) -> TrusteeSecrets:
    params = CeremonyParams(channel, cid, n, k)
    params.check_index(index, "index")
    return TrusteeSecrets(
        params,
        index,
        signer or nacl.signing.SigningKey(os.urandom(32)),
        random_scalar(),
    )


def ceremony_spec(cid: str, n: int, k: int, registrations: Sequence[Mapping[str, Any]]) -> bytes:
    """CreateCeremony's argument."""
    trustees = sorted(registrations, key=lambda r: int(r["index"]))
    return encoding.encode({"cid": cid, "n": n, "k": k, "trustees": [dict(r) for r in trustees]})


def sign_posting(trustee: TrusteeSecrets, body: dict[str, Any]) -> bytes:
    sig = trustee.signer.sign(encoding.encode(body)).signature.hex()
    return encoding.encode({"body": body, "sig": sig})


def dealing_posting(trustee: TrusteeSecrets, registrations: Sequence[Mapping[str, Any]]) -> bytes:
    """PostDealing's argument: commitments to a fresh random polynomial (kept in ``trustee``),
    and its value at each other trustee encrypted to that trustee's registered key."""
    params = trustee.params
    trustee.coefficients = [random_scalar() for _ in range(params.k)]
    dealing = cer.deal(
        params, trustee.index, trustee.coefficients, [random_scalar() for _ in range(params.k)]
    )
    keys = {
        int(r["index"]): cer.TrusteeKey.from_json(
            {k: r[k] for k in ("index", "key", "proof")}, "registration", params
        )
        for r in registrations
    }
    shares = [
        cer.encrypt_share(
            params,
            trustee.index,
            keys[recipient],
            cer.evaluate(trustee.coefficients, recipient),
            random_scalar(),
        ).to_json()
        for recipient in range(1, params.n + 1)
        if recipient != trustee.index
    ]
    body = {
        "type": DEALING_TYPE,
        "channel": params.channel,
        "ceremony": params.ceremony,
        "trustee": trustee.index,
        "dealing": dealing.to_json(),
        "shares": shares,
    }
    return sign_posting(trustee, body)


def check_posting(trustee: TrusteeSecrets, dealings: Sequence[Mapping[str, Any]]) -> bytes:
    """PostCheck's argument after opening the share from every other dealer (``dealings``: the
    stored dealing postings, any order). Every good share goes into the trustee's secret share;
    a bad one gets a complaint naming its dealer (and no secret share is kept)."""
    params = trustee.params
    own = cer.evaluate(trustee.coefficients, trustee.index)
    shares, complaints = [own], []
    for stored in sorted(dealings, key=lambda d: int(d["body"]["trustee"])):
        body = stored["body"]
        dealer = int(body["trustee"])
        if dealer == trustee.index:
            continue
        dealing = Dealing.from_json(body["dealing"], "dealing", params)
        recipients = [i for i in range(1, params.n + 1) if i != dealer]
        enc = EncryptedShare.from_json(
            body["shares"][recipients.index(trustee.index)], "share", params
        )
        try:
            shares.append(cer.decrypt_share(params, enc, trustee.key_secret, dealing))
        except BadShare:
            complaints.append(
                cer.complain(params, enc, trustee.key_secret, random_scalar()).to_json()
            )
    trustee.share = None if complaints else cer.secret_share(shares)
    body = {
        "type": CHECK_TYPE,
        "channel": params.channel,
        "ceremony": params.ceremony,
        "trustee": trustee.index,
        "complaints": complaints,
    }
    return sign_posting(trustee, body)


def question_totals(aggregates: Sequence[Mapping[str, Any]]) -> list[Ciphertext]:
    """Per option, the sum over every shard's ``GetAggregate`` of a secret question."""
    totals: list[Ciphertext] | None = None
    for agg in aggregates:
        sums = [
            Ciphertext.from_json(c, f"sums[{i}]", allow_identity=True)
            for i, c in enumerate(agg["sums"])
        ]
        totals = sums if totals is None else [a + b for a, b in zip(totals, sums, strict=True)]
    if totals is None:
        raise ValueError("no aggregates")
    return totals


def decryption_posting(trustee: TrusteeSecrets, qid: str, totals: Sequence[Ciphertext]) -> bytes:
    """PostDecryption's argument: the trustee's partial decryption of each option's total with
    its proof (null where the total's alpha is the identity). Only totals: a trustee never
    decrypts a single ballot."""
    if trustee.share is None:
        raise ValueError("the trustee has no secret share (the ceremony did not complete)")
    params = trustee.params
    partials = [
        None
        if total.alpha.is_identity
        else cer.partial_decrypt(
            params, trustee.index, trustee.share, total, label(qid, i), random_scalar()
        ).to_json()
        for i, total in enumerate(totals)
    ]
    body = {
        "type": DECRYPTION_TYPE,
        "channel": params.channel,
        "ceremony": params.ceremony,
        "qid": qid,
        "trustee": trustee.index,
        "partials": partials,
    }
    return sign_posting(trustee, body)
