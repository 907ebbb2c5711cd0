"""Errors of network set-up: the node configuration file, crypto material, the genesis block.

Each carries a stable ``code`` (see mvote.chaincode.errors for the registry and docs/errors.md).
"""

from __future__ import annotations

from mvote.chaincode.errors import MvoteError


class ConfigInvalid(MvoteError):
    code = "CONFIG_INVALID"
    summary = (
        "the node configuration (file or arguments) is malformed: an unknown or missing key, a "
        "bad organisation name, an address that is not host:port, inconsistent size limits"
    )


class MaterialInvalid(MvoteError):
    code = "MATERIAL_INVALID"
    summary = (
        "the network directory's crypto material or genesis block is missing, unreadable or "
        "inconsistent (a file absent, a certificate not matching its key or CA, a hash mismatch)"
    )


class NetworkExists(MvoteError):
    code = "NETWORK_EXISTS"
    summary = "network init refuses to write into a directory that already holds a network"
