"""Test-side helpers over the verifier's MSPs (nothing in mvote needs them)."""

from __future__ import annotations

from mvote.verifier._msp import MSP, MSPIdentity, Role


def node_role(msp: MSP, identity: MSPIdentity) -> Role | None:
    """The NodeOU role of a valid identity (CLIENT/PEER/ADMIN/ORDERER), or None."""
    if not msp.is_valid(identity):
        return None
    for role in (Role.CLIENT, Role.PEER, Role.ADMIN, Role.ORDERER):
        if msp.has_ou_role(identity, role):
            return role
    return None
