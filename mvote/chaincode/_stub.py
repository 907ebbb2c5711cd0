"""The chaincode's only window on the world: a stub that maps one to one onto Fabric's shim.

The contract is written against :class:`ChaincodeStub` and nothing else, so the same code runs
under the embedded node's simulator, under a real Fabric peer (through the Python shim of the
chaincode service) and inside the auditor's replay. Semantics follow Fabric's shim:

- ``get_state`` returns ``b""`` for a missing key and reads committed state only: a transaction
  never sees its own writes.
- Range reads are half-open ``[start, end)`` over committed keys in byte order; ``end == ""``
  means no upper bound. Composite keys use Fabric's exact layout (below).
- One event per transaction: a later ``set_event`` replaces an earlier one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple, Protocol

from ._errors import InvalidField

#: Fabric's composite key namespace prefix and separators (shim/chaincode.go).
COMPOSITE_KEY_NAMESPACE = "\x00"
_MIN_RUNE = "\x00"
_MAX_RUNE = "\U0010ffff"


class Timestamp(NamedTuple):
    """google.protobuf.Timestamp of the transaction's channel header."""

    seconds: int
    nanos: int


class ChaincodeStub(Protocol):
    def get_args(self) -> list[bytes]: ...

    def get_tx_id(self) -> str: ...

    def get_channel_id(self) -> str: ...

    def get_tx_timestamp(self) -> Timestamp: ...

    def get_creator(self) -> bytes:
        """The serialized ``msp.SerializedIdentity`` of the transaction's creator."""
        ...

    def get_state(self, key: str) -> bytes: ...

    def put_state(self, key: str, value: bytes) -> None: ...

    def del_state(self, key: str) -> None: ...

    def get_state_by_range(self, start: str, end: str) -> Iterator[tuple[str, bytes]]: ...

    def set_event(self, name: str, payload: bytes) -> None: ...


def create_composite_key(object_type: str, attributes: Sequence[str]) -> str:
    """Fabric's ``CreateCompositeKey``: ``\\x00 type \\x00 attr1 \\x00 ... attrN \\x00``."""
    _check_attribute(object_type, "object type")
    key = COMPOSITE_KEY_NAMESPACE + object_type + _MIN_RUNE
    for attribute in attributes:
        _check_attribute(attribute, "attribute")
        key += attribute + _MIN_RUNE
    return key


def split_composite_key(key: str) -> tuple[str, list[str]]:
    """Fabric's ``SplitCompositeKey``. Precondition: ``key`` came from create_composite_key."""
    if not key.startswith(COMPOSITE_KEY_NAMESPACE) or not key.endswith(_MIN_RUNE):
        raise InvalidField(f"not a composite key: {key!r}", field="key")
    parts = key[1:-1].split(_MIN_RUNE)
    return parts[0], parts[1:]


def partial_key_range(object_type: str, attributes: Sequence[str]) -> tuple[str, str]:
    """The range Fabric's ``GetStateByPartialCompositeKey`` scans for this prefix."""
    start = create_composite_key(object_type, attributes)
    return start, start + _MAX_RUNE


def get_state_by_partial_composite_key(
    stub: ChaincodeStub, object_type: str, attributes: Sequence[str]
) -> Iterator[tuple[str, bytes]]:
    start, end = partial_key_range(object_type, attributes)
    return stub.get_state_by_range(start, end)


def _check_attribute(text: str, what: str) -> None:
    if _MIN_RUNE in text or _MAX_RUNE in text:
        raise InvalidField(f"composite key {what} holds U+0000 or U+10FFFF: {text!r}", field="key")
