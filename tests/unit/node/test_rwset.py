"""The rwset bytes are pinned: every endorser must produce the same bytes for the same simulation."""

from __future__ import annotations

from mvote.chaincode._simulation import RangeRead, Simulation, Version
from mvote.node.rwset import tx_rwset_bytes

# Produced by the implementation that built each KVRead/KVWrite and appended it. Covers a read at
# Version(0, 0) (an empty but present version), a read of an absent key (no version), an
# exhausted range with no reads (raw_reads present but empty), a delete and an empty value.
PINNED = bytes.fromhex(
    "120c0a0a5f6c6966656379636c65125e0a056d766f746512550a030a01610a050a016212000a090a0163120408"
    "071003120a0a017212017318012200121c0a017412017522140a060a02743112000a0a0a027432120408021001"
    "1a060a01771a01761a030a01781a050a01791001"
)


def test_tx_rwset_bytes_are_pinned() -> None:
    simulation = Simulation(
        reads={"b": Version(0, 0), "a": None, "c": Version(7, 3)},
        range_reads=[
            RangeRead("r", "s", True, []),
            RangeRead("t", "u", False, [("t1", Version(0, 0)), ("t2", Version(2, 1))]),
        ],
        writes={"y": None, "x": b"", "w": b"v"},
    )
    assert tx_rwset_bytes({"mvote": simulation, "_lifecycle": Simulation()}) == PINNED
