"""Operator requests of the REST API, signed by an institution admin's Fabric identity.

An operator request (create or open a question, rosters, close, tally) carries three headers:

- ``Mvote-Identity``: base64 of the admin's serialized ``msp.SerializedIdentity`` (MSP id and
  PEM certificate: exactly the ``creator`` bytes of a Fabric transaction);
- ``Mvote-Timestamp``: the time of signing, decimal Unix seconds;
- ``Mvote-Signature``: base64 of an ECDSA P-256 SHA-256 signature, DER with low S (as every
  Fabric signature), over :func:`signed_bytes` of the request.

The signature covers the method, the path, the query string, the timestamp and the SHA-256 of
the body, so nothing of the request can change in transit. The service accepts it when the
identity is a valid certificate of its own institution's MSP (chained to the MSP's root CAs in
the channel's configuration, with Fabric's rules: :meth:`mvote.verifier._msp.MSP.validate`),
within its validity period, with the MSP's admin role (:meth:`MSP.satisfies_role`), the
signature verifies (:func:`mvote.verifier._signatures.verify_p256_sha256`), the timestamp is
within the allowed skew of the service's clock, and the same signature was not received before
(a replay within the skew window). Fabric's signatures are randomised and low-S in canonical DER,
so a request has one encoding of each signature: a retry signs again, a replay repeats one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mvote.chaincode._errors import MvoteError
from mvote.client._identity import Signer
from mvote.service._rest_errors import (
    AdminRequired,
    IdentityRefused,
    RequestExpired,
    RequestReplayed,
    RequestSignatureInvalid,
    SignatureRequired,
)
from mvote.verifier._config import channel_config_from_block
from mvote.verifier._msp import MSP, MSPIdentity, MSPManager, Role
from mvote.verifier._signatures import verify_p256_sha256

IDENTITY_HEADER = "Mvote-Identity"
TIMESTAMP_HEADER = "Mvote-Timestamp"
SIGNATURE_HEADER = "Mvote-Signature"
#: The first line of the signed bytes: the version of this scheme.
SCHEME = b"mvote-rest-request-v1"
#: How far a request's timestamp may be from the service's clock, either way.
DEFAULT_SKEW_SECONDS = 300
#: How many signed requests the replay memory holds (oldest forgotten first); a forgotten one
#: is also outside the skew window unless more than this many arrived within the window.
REPLAY_MEMORY = 65_536
#: The longest header value read (a certificate chain fits well within it).
MAX_HEADER_CHARS = 16_384


def signed_bytes(method: str, path: str, query: str, timestamp: int, body: bytes) -> bytes:
    """The bytes an operator signs: the scheme, the method (upper case), the path as sent
    (percent-encoded), the raw query string (empty if none), the timestamp and the lowercase
    hex SHA-256 of the body, each on its own line (``\\n``)."""
    lines = (
        SCHEME,
        method.upper().encode("ascii"),
        path.encode("utf-8"),
        query.encode("utf-8"),
        str(timestamp).encode("ascii"),
        hashlib.sha256(body).hexdigest().encode("ascii"),
    )
    return b"\n".join(lines)


def signed_headers(
    signer: Signer,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    query: str = "",
    timestamp: int | None = None,
) -> dict[str, str]:
    """The three headers that sign a request as ``signer`` (now, unless ``timestamp``)."""
    when = int(time.time()) if timestamp is None else timestamp
    signature = signer.sign(signed_bytes(method, path, query, when, body))
    return {
        IDENTITY_HEADER: base64.b64encode(signer.creator).decode("ascii"),
        TIMESTAMP_HEADER: str(when),
        SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
    }


@dataclass(frozen=True)
class SignedRequest:
    """What the service received: the request's parts and its three signature headers
    (``None`` for a header that is absent)."""

    method: str
    path: str
    query: str
    body: bytes
    identity: str | None
    timestamp: str | None
    signature: str | None

    @classmethod
    def of(
        cls, method: str, path: str, query: str, body: bytes, headers: Mapping[str, str]
    ) -> SignedRequest:
        """Precondition: ``headers`` looks names up case-insensitively (an HTTP header map)."""
        return cls(
            method,
            path,
            query,
            body,
            headers.get(IDENTITY_HEADER),
            headers.get(TIMESTAMP_HEADER),
            headers.get(SIGNATURE_HEADER),
        )


@dataclass(frozen=True)
class Operator:
    """The admin who signed an operator request: MSP id, certificate subject and the
    identity's id (SHA-256 of its certificate, as Fabric names identities)."""

    msp_id: str
    subject: str
    identity_id: str


def _base64(value: str, header: str) -> bytes:
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise RequestSignatureInvalid(
            f"{header}: expected standard base64, got {value[:40]!r}", field=header
        ) from exc


def _present(request: SignedRequest) -> tuple[str, str, str]:
    """The identity, timestamp and signature headers; raises SignatureRequired for a missing
    one, RequestSignatureInvalid for one over :data:`MAX_HEADER_CHARS`."""
    values = []
    for header, value in (
        (IDENTITY_HEADER, request.identity),
        (TIMESTAMP_HEADER, request.timestamp),
        (SIGNATURE_HEADER, request.signature),
    ):
        if value is None:
            raise SignatureRequired(
                f"{header}: missing; operator requests are signed by an institution admin "
                "(docs/integrators.md, 'Operator requests')",
                field=header,
            )
        if len(value) > MAX_HEADER_CHARS:
            raise RequestSignatureInvalid(
                f"{header}: expected at most {MAX_HEADER_CHARS} characters, got {len(value)}",
                field=header,
            )
        values.append(value)
    identity, timestamp, signature = values
    return identity, timestamp, signature


class AdminAuthority:
    """Decides whether a signed request comes from an admin of one institution (``msp_id``),
    as the channel's configuration defines its MSP. Thread-safe."""

    def __init__(
        self,
        msps: MSPManager,
        msp_id: str,
        *,
        skew_seconds: int = DEFAULT_SKEW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Precondition: ``msp_id`` is an MSP of ``msps``; checked, ValueError otherwise."""
        if msp_id not in msps.msps:
            raise ValueError(f"msp_id: expected one of {sorted(msps.msps)}, got {msp_id!r}")
        self._msps = msps
        self.msp_id = msp_id
        self._skew = skew_seconds
        self._clock = clock
        self._seen: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_genesis(
        cls,
        genesis_block: bytes,
        msp_id: str,
        *,
        skew_seconds: int = DEFAULT_SKEW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> AdminAuthority:
        """The authority over ``msp_id`` as the channel's genesis block configures it."""
        msps = channel_config_from_block(genesis_block).msps
        return cls(msps, msp_id, skew_seconds=skew_seconds, clock=clock)

    @property
    def _msp(self) -> MSP:
        return self._msps.msps[self.msp_id]

    def verify(self, request: SignedRequest) -> Operator:
        """The admin who signed ``request``; raises SignatureRequired, RequestSignatureInvalid,
        RequestExpired, IdentityRefused, AdminRequired or RequestReplayed."""
        identity_b64, timestamp_text, signature_b64 = _present(request)
        now = int(self._clock())
        timestamp = self._timestamp(timestamp_text, now)
        identity = self._identity(_base64(identity_b64, IDENTITY_HEADER), now)
        signed = signed_bytes(request.method, request.path, request.query, timestamp, request.body)
        signature = _base64(signature_b64, SIGNATURE_HEADER)
        try:
            verify_p256_sha256(identity.public_key, signed, signature)
        except MvoteError as exc:
            raise RequestSignatureInvalid(
                f"{SIGNATURE_HEADER}: {exc.message}", field=SIGNATURE_HEADER
            ) from exc
        if not self._msp.satisfies_role(identity, Role.ADMIN):
            raise AdminRequired(
                f"{IDENTITY_HEADER}: expected an admin of {self.msp_id}, got a "
                f"{self.msp_id} identity without the admin role",
                field=IDENTITY_HEADER,
            )
        self._remember(hashlib.sha256(signature).digest(), now)
        return Operator(identity.mspid, identity.cert.subject.rfc4514_string(), identity.id)

    def _timestamp(self, text: str, now: int) -> int:
        if not text.isascii() or not text.isdigit() or len(text) > 12:
            raise RequestSignatureInvalid(
                f"{TIMESTAMP_HEADER}: expected decimal Unix seconds, got {text[:40]!r}",
                field=TIMESTAMP_HEADER,
            )
        timestamp = int(text)
        if abs(now - timestamp) > self._skew:
            raise RequestExpired(
                f"{TIMESTAMP_HEADER}: expected within {self._skew} s of the service's clock "
                f"({now}), got {timestamp}",
                field=TIMESTAMP_HEADER,
            )
        return timestamp

    def _identity(self, serialized: bytes, now: int) -> MSPIdentity:
        try:
            identity = self._msps.deserialize(serialized)
        except MvoteError as exc:
            raise IdentityRefused(
                f"{IDENTITY_HEADER}: {exc.message}", field=IDENTITY_HEADER
            ) from exc
        if identity.mspid != self.msp_id:
            raise IdentityRefused(
                f"{IDENTITY_HEADER}: expected an identity of {self.msp_id}, got one of "
                f"{identity.mspid}",
                field=IDENTITY_HEADER,
            )
        try:
            self._msp.validate(identity)
        except MvoteError as exc:
            raise IdentityRefused(
                f"{IDENTITY_HEADER}: not a valid {self.msp_id} identity: {exc.message}",
                field=IDENTITY_HEADER,
            ) from exc
        cert = identity.cert
        if not cert.not_valid_before_utc.timestamp() <= now <= cert.not_valid_after_utc.timestamp():
            raise IdentityRefused(
                f"{IDENTITY_HEADER}: the certificate is valid from {cert.not_valid_before_utc} "
                f"to {cert.not_valid_after_utc}, not now",
                field=IDENTITY_HEADER,
            )
        return identity

    def _remember(self, key: bytes, now: int) -> None:
        """Refuse ``key`` if seen within the window; else remember it. Forgets what is older
        than the window, and the oldest beyond :data:`REPLAY_MEMORY`."""
        with self._lock:
            while self._seen:
                oldest, seen_at = next(iter(self._seen.items()))
                if now - seen_at <= 2 * self._skew and len(self._seen) < REPLAY_MEMORY:
                    break
                del self._seen[oldest]
            if key in self._seen:
                raise RequestReplayed(
                    f"{SIGNATURE_HEADER}: this signature was already received; sign each "
                    "request anew",
                    field=SIGNATURE_HEADER,
                )
            self._seen[key] = now
