"""A gateway process's pipe to the node (serving.NodeLink): answers reach the caller that asked,
the node's refusals come back as its own error types, and nothing waits forever."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import IO, Any

import pytest

from mvote.node import serving
from mvote.node.errors import DuplicateTransaction, NotRunning
from mvote.node.frames import read_frame, write_frame
from mvote.node.serving import NodeLink


class Pipes:
    """A NodeLink and the node's ends of its two pipes."""

    def __init__(self) -> None:
        to_gateway_r, to_gateway_w = os.pipe()
        to_node_r, to_node_w = os.pipe()
        self.from_gateway: IO[bytes] = os.fdopen(to_node_r, "rb")
        self.to_gateway: IO[bytes] = os.fdopen(to_gateway_w, "wb")
        self.link = NodeLink(os.fdopen(to_gateway_r, "rb"), os.fdopen(to_node_w, "wb"))
        self.commits: list[Any] = []
        self.stopped = threading.Event()
        self.reader = threading.Thread(
            target=self.link.serve, args=(self.commits.append, self.stopped.set), daemon=True
        )
        self.reader.start()

    def answer(self, refusal: object = None) -> tuple[Any, ...]:
        """Read the next order and answer it with ``refusal``; the order read."""
        frame: tuple[Any, ...] = read_frame(self.from_gateway)
        write_frame(self.to_gateway, ("ordered", frame[1], refusal))
        return frame


@pytest.fixture
def pipes() -> Iterator[Pipes]:
    p = Pipes()
    yield p
    write_frame(p.to_gateway, ("stop",))
    p.reader.join(5)


def test_orders_reach_the_node_and_answers_their_callers(pipes: Pipes) -> None:
    done = []
    callers = [
        threading.Thread(target=lambda i=i: done.append(pipes.link.order(f"tx{i}", b"raw")))
        for i in range(4)
    ]
    for c in callers:
        c.start()
    seen = {pipes.answer()[2] for _ in callers}
    for c in callers:
        c.join(5)
    assert seen == {"tx0", "tx1", "tx2", "tx3"} and done == [None] * 4


def test_a_refusal_comes_back_as_the_nodes_error_type(pipes: Pipes) -> None:
    errors: list[BaseException] = []

    def order() -> None:
        try:
            pipes.link.order("tx", b"raw")
        except BaseException as exc:
            errors.append(exc)

    caller = threading.Thread(target=order)
    caller.start()
    pipes.answer(("DUPLICATE_TRANSACTION", "tx_id: transaction tx was already submitted", "tx_id"))
    caller.join(5)
    [error] = errors
    assert isinstance(error, DuplicateTransaction) and error.field == "tx_id"
    assert "already submitted" in error.message


def test_commits_are_handed_on_and_stop_refuses_what_waits(pipes: Pipes) -> None:
    write_frame(pipes.to_gateway, ("committed", "a commit"))
    errors: list[BaseException] = []

    def order() -> None:
        try:
            pipes.link.order("tx", b"raw")
        except BaseException as exc:
            errors.append(exc)

    caller = threading.Thread(target=order)
    caller.start()
    read_frame(pipes.from_gateway)  # the order arrived; the node stops instead of answering
    write_frame(pipes.to_gateway, ("stop",))
    caller.join(5)
    assert pipes.stopped.wait(5)
    assert pipes.commits == ["a commit"]
    assert isinstance(errors[0], NotRunning)
    with pytest.raises(NotRunning):
        pipes.link.order("later", b"raw")


def test_an_order_the_node_never_answers_times_out(
    pipes: Pipes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serving, "ORDER_TIMEOUT_SECONDS", 0.2)
    with pytest.raises(NotRunning, match="did not take transaction tx"):
        pipes.link.order("tx", b"raw")
