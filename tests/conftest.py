"""Shared fixtures: real X.509 identities as Fabric creators, voter keys, an in-process ledger."""

from __future__ import annotations

from collections.abc import Callable

import nacl.signing
import pytest
from testkit import creator_bytes

from mvote.chaincode._simulation import SerialLedger

#: Tests marked ``slow`` here, beside those marked in place: each took 10 s or more (its call, or
#: the set-up of the module fixture it needs) in a full run on the 2-core CI machine. A test id
#: names one test; a file names every test in it. ``make test-fast`` leaves them out.
SLOW = (
    # 20,000 ballots committed by the module's fixture.
    "tests/unit/chaincode/test_aggregate_committed.py",
    "tests/unit/node/test_untrusted_requests.py"
    "::test_unknown_identities_grow_a_gateways_memory_by_a_bounded_amount",
    "tests/unit/verifier/test_untrusted_bytes.py::test_every_bit_of_the_creator_certificate",
    "tests/unit/verifier/test_untrusted_bytes.py::test_every_bit_of_an_endorser_certificate",
    "tests/unit/verifier/test_untrusted_bytes.py::test_every_bit_of_the_orderer_certificate",
    "tests/unit/verifier/test_receipt.py::test_a_receipt_needs_a_trust_anchor_from_outside_it",
    "tests/property/test_contract_properties.py::test_contract_state_machine",
    # A fresh virtual environment and a pip install.
    "tests/scenario/test_base_install.py",
    "tests/scenario/test_cli_newcomer.py",
    "tests/scenario/test_cli_trustee.py",
    "tests/scenario/test_demo.py::test_mvote_demo_command_runs_on_the_embedded_node_and_verifies",
    # Installs and runs Fabric's Node.js Gateway SDK.
    "tests/interop/test_fabric_gateway_node.py",
)


def _listed_slow(nodeid: str) -> bool:
    return any(nodeid == slow or nodeid.startswith((slow + "::", slow + "[")) for slow in SLOW)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _listed_slow(item.nodeid):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def identity() -> Callable[[str, str], bytes]:
    return creator_bytes


@pytest.fixture
def ledger() -> SerialLedger:
    return SerialLedger("mvote")


@pytest.fixture
def voter_key() -> Callable[[int], nacl.signing.SigningKey]:
    """Deterministic voter keys by index (seeded), so vectors and failures are reproducible."""

    def make(i: int) -> nacl.signing.SigningKey:
        return nacl.signing.SigningKey(i.to_bytes(4, "big") * 8)

    return make
