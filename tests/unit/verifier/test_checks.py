"""Check names: one StrEnum, carried by every finding, each member exercised by the tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mvote.verifier._chain import CHECKS, Finding
from mvote.verifier._checks import CHAIN_CHECKS, EXPECTED_CHECKS, REPLAY_CHECKS, Check
from mvote.verifier._validation import Reason

TESTS = Path(__file__).resolve().parents[2]


def test_the_groups_partition_the_enum() -> None:
    assert set(Check) == CHAIN_CHECKS | REPLAY_CHECKS | EXPECTED_CHECKS
    assert not CHAIN_CHECKS & REPLAY_CHECKS
    assert set(CHECKS) == CHAIN_CHECKS


def test_a_finding_or_reason_outside_the_enum_is_refused() -> None:
    with pytest.raises(ValueError, match="not_a_check"):
        Finding(1, None, None, "not_a_check", "m")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not_a_check"):
        Reason("not_a_check", "m")  # type: ignore[arg-type]
    finding = Finding(1, None, None, "mvcc", "m")  # type: ignore[arg-type]
    assert finding.check is Check.MVCC and f"{finding.check}" == "mvcc"


#: Checks no test names yet (each needs a test chain that provokes it); this list only shrinks.
NOT_YET_PROVOKED = {
    Check.BLOCK_MALFORMED,
    Check.TX_WELL_FORMED,
    Check.CONFIG_UPDATE,
    Check.CONFIG_WRITE_SET,
    Check.CONFIG_RESULT,
    Check.TX_MALFORMED,
    Check.TX_TYPE,
    Check.PROPOSAL_HASH,
    Check.DUPLICATE_TXID,
    Check.CHAINCODE_DEFINITION,
    Check.KEY_LEVEL_ENDORSEMENT,
    Check.VERIFIER_ERROR,
    Check.REPLAY_MALFORMED,
    Check.REPLAY_NAMESPACES,
    Check.REPLAY_READS,
    Check.REPLAY_EVENT,
    Check.LAST_BLOCK_HASH,
}


def test_every_check_is_expected_by_some_test() -> None:
    """Each member is named (by value or as ``Check.NAME``) in some test of tests/ other than
    this one, except the listed ones: a new check comes with a test that provokes it."""
    text = "\n".join(
        p.read_text() for p in TESTS.rglob("*.py") if p.resolve() != Path(__file__).resolve()
    )
    missing = [c for c in Check if not re.search(rf"[\"']{c.value}[\"']|Check\.{c.name}\b", text)]
    assert set(missing) == NOT_YET_PROVOKED
