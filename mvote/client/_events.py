"""Events from the ledger: chaincode events and blocks, with checkpointing.

As in fabric-gateway, a checkpointer remembers the position after the last event the application
has processed: the application calls ``checkpoint_chaincode_event`` (or ``checkpoint_block``)
once it has dealt with an event, and a stream opened with the same checkpointer later resumes
right after it: chaincode events from the checkpointed block, skipping up to and including the
checkpointed transaction's event; blocks from the block after the checkpointed one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import grpc

from mvote.client._errors import CheckpointInvalid

T = TypeVar("T")


@dataclass(frozen=True)
class ChaincodeEvent:
    """One event a VALID transaction of the chaincode emitted."""

    block_number: int
    transaction_id: str
    chaincode_name: str
    event_name: str
    payload: bytes


class Checkpointer(Protocol):
    @property
    def block_number(self) -> int | None:
        """The block to resume from, or None for no checkpoint yet."""

    @property
    def transaction_id(self) -> str:
        """The last processed transaction in that block ("" when the block is a fresh start)."""

    def checkpoint_block(self, block_number: int) -> None: ...

    def checkpoint_transaction(self, block_number: int, transaction_id: str) -> None: ...

    def checkpoint_chaincode_event(self, event: ChaincodeEvent) -> None: ...


class InMemoryCheckpointer:
    def __init__(self) -> None:
        self._block: int | None = None
        self._tx = ""

    @property
    def block_number(self) -> int | None:
        return self._block

    @property
    def transaction_id(self) -> str:
        return self._tx

    def checkpoint_block(self, block_number: int) -> None:
        # Block N is done: resume at N + 1 with nothing to skip.
        self._set(block_number + 1, "")

    def checkpoint_transaction(self, block_number: int, transaction_id: str) -> None:
        self._set(block_number, transaction_id)

    def checkpoint_chaincode_event(self, event: ChaincodeEvent) -> None:
        self.checkpoint_transaction(event.block_number, event.transaction_id)

    def _set(self, block_number: int, transaction_id: str) -> None:
        self._block, self._tx = block_number, transaction_id


class FileCheckpointer(InMemoryCheckpointer):
    """A checkpointer persisted as JSON ``{"blockNumber": N, "transactionId": "..."}`` (the
    fabric-gateway file checkpointer's format), replaced atomically on every checkpoint so a
    crash leaves either the old or the new position."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = Path(path)
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            doc: Any = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointInvalid(f"{self.path}: cannot read: {exc}", field="path") from None
        block = doc.get("blockNumber") if isinstance(doc, dict) else None
        tx = doc.get("transactionId", "") if isinstance(doc, dict) else None
        if not (isinstance(block, int) and not isinstance(block, bool) and block >= 0):
            raise CheckpointInvalid(
                f"{self.path}: blockNumber: expected a non-negative integer, got {block!r}",
                field="blockNumber",
            )
        if not isinstance(tx, str):
            raise CheckpointInvalid(
                f"{self.path}: transactionId: expected a string, got {tx!r}",
                field="transactionId",
            )
        self._block, self._tx = block, tx

    def _set(self, block_number: int, transaction_id: str) -> None:
        super()._set(block_number, transaction_id)
        text = json.dumps({"blockNumber": block_number, "transactionId": transaction_id})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class EventStream(Generic[T]):
    """An open server stream of events: iterate it; ``close()`` (or ``with``) cancels the call."""

    def __init__(self, call: Any, items: Callable[[Any], Iterator[T]]) -> None:
        self._call = call
        self._items = items(call)
        self._closed = False

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        try:
            return next(self._items)
        except grpc.RpcError as exc:
            if self._closed and exc.code() == grpc.StatusCode.CANCELLED:
                raise StopIteration from None
            raise

    def close(self) -> None:
        self._closed = True
        self._call.cancel()

    def __enter__(self) -> EventStream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
