"""The voter's wallet: an Ed25519 key made on the device, stored sealed under a passphrase.

The file is canonical JSON: the public key in clear (so a wallet can be shown or listed without
its passphrase), and the 32-byte seed sealed with XSalsa20-Poly1305 (libsodium secretbox) under a
key derived from the passphrase with Argon2id (libsodium's ``crypto_pwhash``, its MODERATE limits
by default: 256 MiB, 3 passes). A wrong passphrase and a tampered file fail the same way: the box
does not open. Opening checks the clear public key against the sealed seed, so it cannot be swapped either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.signing
import nacl.utils

from mvote.chaincode import encoding
from mvote.chaincode._errors import InvalidField
from mvote.chaincode._schema import Const, Hex, Int, Object
from mvote.client._errors import WrongPassphrase as WrongPassphrase
from mvote.client._files import write_private

WALLET_TYPE = "mvote.wallet.v1"
KDF = "argon2id13"
SEED_SIZE = 32
MAX_WALLET_BYTES = 4096

WALLET_SHAPE = Object(
    {
        "type": Const(WALLET_TYPE),
        "public_key": Hex(32),
        "kdf": Object(
            {
                "alg": Const(KDF),
                "salt": Hex(nacl.pwhash.argon2id.SALTBYTES),
                "opslimit": Int(
                    nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.OPSLIMIT_MAX
                ),
                "memlimit": Int(nacl.pwhash.argon2id.MEMLIMIT_MIN, 1 << 32),
            }
        ),
        # nonce (24 bytes) || secretbox(seed) (32 + 16 bytes)
        "sealed": Hex(
            nacl.secret.SecretBox.NONCE_SIZE + SEED_SIZE + nacl.secret.SecretBox.MACBYTES
        ),
    }
)


@dataclass(frozen=True)
class Limits:
    opslimit: int = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
    memlimit: int = nacl.pwhash.argon2id.MEMLIMIT_MODERATE


#: For tests only: the smallest limits libsodium allows.
FAST_LIMITS = Limits(nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN)


def _box(passphrase: str, salt: bytes, limits: Limits) -> nacl.secret.SecretBox:
    if not passphrase:
        raise InvalidField("passphrase: must not be empty", field="passphrase")
    key = nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE,
        passphrase.encode("utf-8"),
        salt,
        opslimit=limits.opslimit,
        memlimit=limits.memlimit,
    )
    return nacl.secret.SecretBox(key)


def seal(plaintext: bytes, passphrase: str, limits: Limits) -> dict[str, Any]:
    """``{"kdf": ..., "sealed": hex}``: ``plaintext`` in secretbox under an Argon2id key from
    ``passphrase`` and a fresh salt. The one sealing recipe of wallets and trustee files."""
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    sealed = _box(passphrase, salt, limits).encrypt(plaintext)
    kdf = {"alg": KDF, "salt": salt.hex(), "opslimit": limits.opslimit, "memlimit": limits.memlimit}
    return {"kdf": kdf, "sealed": bytes(sealed).hex()}


def unseal(document: Mapping[str, Any], passphrase: str, what: str = "wallet") -> bytes:
    """What :func:`seal` sealed. Raises WrongPassphrase (a wrong passphrase or altered bytes)."""
    kdf = document["kdf"]
    box = _box(passphrase, bytes.fromhex(kdf["salt"]), Limits(kdf["opslimit"], kdf["memlimit"]))
    try:
        return bytes(box.decrypt(bytes.fromhex(document["sealed"])))
    except nacl.exceptions.CryptoError as exc:
        raise WrongPassphrase(
            f"passphrase: the {what} does not open with it", field="passphrase"
        ) from exc


@dataclass(frozen=True)
class Wallet:
    public_key: str
    document: dict[str, Any]

    @staticmethod
    def create(passphrase: str, *, limits: Limits = Limits(), seed: bytes | None = None) -> Wallet:
        """A new key from the OS's randomness (or ``seed``), sealed under ``passphrase``."""
        seed = nacl.utils.random(SEED_SIZE) if seed is None else seed
        key = nacl.signing.SigningKey(seed)
        public = bytes(key.verify_key)
        # The public key stays in clear; opening checks it against the sealed seed.
        document = {
            "type": WALLET_TYPE,
            "public_key": public.hex(),
            **seal(seed, passphrase, limits),
        }
        return Wallet(public.hex(), document)

    def unlock(self, passphrase: str) -> nacl.signing.SigningKey:
        seed = unseal(self.document, passphrase)
        key = nacl.signing.SigningKey(seed)
        if bytes(key.verify_key).hex() != self.public_key:
            raise WrongPassphrase(
                "public_key: does not match the sealed key (altered file)", field="public_key"
            )
        return key

    def to_bytes(self) -> bytes:
        return encoding.encode(self.document)

    @staticmethod
    def from_bytes(data: bytes) -> Wallet:
        document = WALLET_SHAPE.check(
            encoding.decode(data, max_size=MAX_WALLET_BYTES, what="wallet"), "wallet"
        )
        return Wallet(document["public_key"], document)

    def save(self, path: Path) -> None:
        """Write the wallet readable by its owner only."""
        write_private(path, self.to_bytes())

    @staticmethod
    def load(path: Path) -> Wallet:
        """The wallet in ``path`` (one final newline, as an editor adds, is accepted)."""
        return Wallet.from_bytes(encoding.file_bytes(path.read_bytes()))

    def export(self, passphrase: str, new_passphrase: str, *, limits: Limits = Limits()) -> Wallet:
        """The same key sealed under another passphrase (to move it to another device)."""
        seed = bytes(self.unlock(passphrase))
        return Wallet.create(new_passphrase, limits=limits, seed=seed)
