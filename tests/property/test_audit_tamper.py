"""Any changed byte of any block fails the audit, and the report names that block.

A chain made by the embedded node (``nodechain.running_chain``: genesis, chaincode definition,
question, ballots, close, aggregate, tally); hypothesis flips a byte anywhere in a block, and the
audit must not verify and must report a finding at that block (a change can also be felt by later
blocks, e.g. a broken hash chain; those may be named too).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nodechain import cast_args, running_chain

from mvote.node.config import BatchSettings
from mvote.verifier._audit import audit_chain


@pytest.fixture(scope="module")
def node_chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[bytes], bytes]:
    directory: Path = tmp_path_factory.mktemp("tamper")
    batch = BatchSettings(timeout_ms=10)
    with running_chain(directory / "net", batch, qid="q", options=("a", "b")) as chain:
        for seed in range(1, 4):
            chain.submit(*cast_args(chain, seed, seed % 2))
        chain.submit("CloseQuestion", "q", "done")
        chain.submit("Aggregate", "q", "0")
        chain.submit("Tally", "q")
        return chain.blocks(), chain.genesis_hash


def test_the_untouched_chain_verifies(node_chain: tuple[list[bytes], bytes]) -> None:
    blocks, anchor = node_chain
    assert audit_chain(blocks, anchor, workers=1).verified


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_any_flipped_byte_is_named_at_its_block(
    node_chain: tuple[list[bytes], bytes], data: st.DataObject
) -> None:
    blocks, anchor = node_chain
    number = data.draw(st.integers(0, len(blocks) - 1), label="block")
    position = data.draw(st.integers(0, len(blocks[number]) - 1), label="byte")
    flip = data.draw(st.integers(1, 255), label="xor")
    tampered = list(blocks)
    raw = bytearray(tampered[number])
    raw[position] ^= flip
    tampered[number] = bytes(raw)
    report = audit_chain(tampered, anchor, workers=1)
    assert not report.verified
    assert number in {f.block for f in report.findings}, [str(f) for f in report.findings]
