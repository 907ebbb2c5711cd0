"""The public connection profile: what a voter, trustee, auditor or integrator needs to reach a
network and check what it answers, and nothing secret.

A profile is one JSON file (``mvote network profile`` writes it):

    {"type": "mvote-profile", "version": 1, "channel": "mvote", "chaincode": "mvote",
     "genesis_hash": "<64 hex>",
     "service": {"address": "host:port", "tls_ca": "<PEM>"} | null,
     "peers": [{"msp_id": "CityhallMSP", "address": "host:port", "tls_ca": "<PEM>"}, ...]}

The genesis hash is the trust anchor (``mvote-verify receipt --profile FILE`` reads it); the TLS
CAs let a client authenticate the service and the peers. A profile holds no private key:
:func:`Profile.from_json` refuses a PEM private key anywhere in it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from mvote.service._errors import ProfileInvalid

__all__ = ["PROFILE_TYPE", "Endpoint", "Profile"]

PROFILE_TYPE = "mvote-profile"
PROFILE_VERSION = 1
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ADDRESS = re.compile(r"[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: The profile file's size limit (a few CA certificates).
MAX_PROFILE_BYTES = 1 << 20


@dataclass(frozen=True)
class Endpoint:
    """A gRPC endpoint and the PEM of the CA that issued its TLS certificate."""

    address: str
    tls_ca: bytes
    msp_id: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {"address": self.address, "tls_ca": self.tls_ca.decode("ascii")}
        if self.msp_id:
            out["msp_id"] = self.msp_id
        return out

    @staticmethod
    def from_json(value: Any, where: str) -> Endpoint:
        if not isinstance(value, dict):
            raise ProfileInvalid(f"{where}: expected an object", field=where)
        address, ca = value.get("address"), value.get("tls_ca")
        if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
            raise ProfileInvalid(f"{where}.address: expected host:port", field=f"{where}.address")
        if not isinstance(ca, str):
            raise ProfileInvalid(f"{where}.tls_ca: expected a PEM", field=f"{where}.tls_ca")
        try:
            x509.load_pem_x509_certificate(ca.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise ProfileInvalid(
                f"{where}.tls_ca: not a PEM certificate", field=f"{where}.tls_ca"
            ) from exc
        msp = value.get("msp_id", "")
        if not isinstance(msp, str) or (msp and not _NAME.fullmatch(msp)):
            raise ProfileInvalid(f"{where}.msp_id: expected an MSP id", field=f"{where}.msp_id")
        return Endpoint(address, ca.encode("ascii"), msp)


@dataclass(frozen=True)
class Profile:
    """A network as its public users see it."""

    channel: str
    chaincode: str
    genesis_hash: str
    service: Endpoint | None
    peers: tuple[Endpoint, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "type": PROFILE_TYPE,
            "version": PROFILE_VERSION,
            "channel": self.channel,
            "chaincode": self.chaincode,
            "genesis_hash": self.genesis_hash,
            "service": None if self.service is None else self.service.to_json(),
            "peers": [p.to_json() for p in self.peers],
        }

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n").encode()

    @staticmethod
    def from_json(value: Any) -> Profile:
        """Raises ProfileInvalid naming the field; a private key anywhere refuses the whole."""
        if not isinstance(value, dict) or value.get("type") != PROFILE_TYPE:
            raise ProfileInvalid(f"type: expected {PROFILE_TYPE!r}", field="type")
        if value.get("version") != PROFILE_VERSION:
            raise ProfileInvalid(f"version: expected {PROFILE_VERSION}", field="version")
        if "PRIVATE KEY" in json.dumps(value):
            raise ProfileInvalid(
                "profile: holds a private key; a profile is public and must not", field="profile"
            )
        for name in ("channel", "chaincode"):
            if not isinstance(value.get(name), str) or not _NAME.fullmatch(value[name]):
                raise ProfileInvalid(f"{name}: expected a name", field=name)
        anchor = value.get("genesis_hash")
        if not isinstance(anchor, str) or not _HEX64.fullmatch(anchor):
            raise ProfileInvalid("genesis_hash: expected 64 hex digits", field="genesis_hash")
        peers = value.get("peers")
        if not isinstance(peers, list):
            raise ProfileInvalid("peers: expected a list", field="peers")
        service = value.get("service")
        return Profile(
            channel=value["channel"],
            chaincode=value["chaincode"],
            genesis_hash=anchor,
            service=None if service is None else Endpoint.from_json(service, "service"),
            peers=tuple(Endpoint.from_json(p, f"peers[{i}]") for i, p in enumerate(peers)),
        )

    @staticmethod
    def load(path: Path) -> Profile:
        """Raises ProfileInvalid naming the file for an unreadable or malformed one."""
        try:
            data = path.read_bytes()
            if len(data) > MAX_PROFILE_BYTES:
                raise ProfileInvalid(f"{path}: larger than {MAX_PROFILE_BYTES} bytes")
            value = json.loads(data)
        except (OSError, ValueError) as exc:
            raise ProfileInvalid(
                f"{path}: not a readable JSON profile ({exc})", field="profile"
            ) from exc
        try:
            return Profile.from_json(value)
        except ProfileInvalid as exc:
            raise ProfileInvalid(f"{path}: {exc.message}", field=exc.field) from exc

    def peer(self, msp_id: str) -> Endpoint:
        """The peer of organisation ``msp_id``. Raises ProfileInvalid if the profile has none."""
        for peer in self.peers:
            if peer.msp_id == msp_id:
                return peer
        raise ProfileInvalid(f"peers: no peer of {msp_id} in the profile", field="peers")
