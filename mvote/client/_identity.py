"""Fabric identities and signers for clients: the verifier's own (mvote.verifier._identity).

Kept as the client's name for them, so a client imports its identity from the client package.
"""

from mvote.verifier._identity import (
    Identity,
    Signer,
    load_signer,
    serialize_identity,
    sign_low_s,
)

__all__ = ["Identity", "Signer", "load_signer", "serialize_identity", "sign_low_s"]
