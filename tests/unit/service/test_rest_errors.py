"""The REST API's HTTP statuses and problems (mvote.service._rest_errors), and the operator
authority's clock and replay rules (mvote.service._rest_auth) on a real network's MSPs."""

from __future__ import annotations

from pathlib import Path

import pytest
from grpc_support import ORGS

from mvote.chaincode._errors import AlreadyVoted, MvoteError, Refusal
from mvote.client._errors import EndorseError, GatewayError
from mvote.client._identity import load_signer
from mvote.node.errors import ALL_ERROR_TYPES
from mvote.node.material import init_network, load_network
from mvote.service import _errors as service_errors
from mvote.service._rest_auth import AdminAuthority, SignedRequest, signed_headers
from mvote.service._rest_errors import (
    HTTP_STATUS,
    RequestExpired,
    RequestReplayed,
    problem_of,
)

TYPES = {**ALL_ERROR_TYPES, **{cls.code: cls for cls in service_errors.ERRORS}}


def test_every_code_given_a_status_is_a_code_of_a_table() -> None:
    unknown = sorted(set(HTTP_STATUS) - set(TYPES))
    assert not unknown, f"HTTP_STATUS names codes no error table defines: {unknown}"
    assert all(400 <= status <= 599 for status in HTTP_STATUS.values())


def test_a_fault_is_a_500_and_a_refusal_keeps_its_code() -> None:
    fault = problem_of(MvoteError("boom"), TYPES)
    assert (fault.status, fault.code, fault.field) == (500, "INTERNAL", None)
    refusal = Refusal("ALREADY_VOTED", "ballot.voter", "voter v already voted")
    carried = problem_of(
        EndorseError("endorse failed", grpc_code="ABORTED", refusal=refusal), TYPES
    )
    assert (carried.status, carried.code, carried.field) == (409, "ALREADY_VOTED", "ballot.voter")
    assert carried.title == AlreadyVoted.summary and carried.detail == "voter v already voted"
    gone = problem_of(GatewayError("no peer", grpc_code="UNAVAILABLE"), TYPES)
    assert (gone.status, gone.code) == (503, "GATEWAY_ERROR")
    odd = problem_of(GatewayError("odd", grpc_code="DATA_LOSS"), TYPES)
    assert odd.status == 502


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return init_network(tmp_path_factory.mktemp("auth") / "network", ORGS).directory


def test_a_signature_is_taken_once_and_only_within_the_skew(network: Path) -> None:
    material = load_network(network)
    org = material.org("cityhall")
    clock = Clock(1_800_000_000)
    authority = AdminAuthority.from_genesis(
        material.genesis_path.read_bytes(), org.msp_id, skew_seconds=60, clock=clock
    )
    admin = load_signer(org.admin.msp_dir, org.msp_id)

    def request(timestamp: int) -> SignedRequest:
        headers = signed_headers(admin, "POST", "/v1/rosters", b"{}", timestamp=timestamp)
        return SignedRequest.of("POST", "/v1/rosters", "", b"{}", headers)

    first = request(1_800_000_000)
    assert authority.verify(first).msp_id == org.msp_id
    with pytest.raises(RequestReplayed):
        authority.verify(first)
    # A retry signs again (a fresh randomised signature over the same bytes): taken.
    assert authority.verify(request(1_800_000_000)).msp_id == org.msp_id
    clock.now += 61
    with pytest.raises(RequestExpired) as late:
        authority.verify(request(1_800_000_000))
    assert late.value.field == "Mvote-Timestamp"
    with pytest.raises(RequestExpired):
        authority.verify(request(int(clock.now) + 61))
    assert authority.verify(request(int(clock.now) + 59)).msp_id == org.msp_id
