"""Fabric's official Node.js Gateway client, unchanged, against the embedded node over TLS.

A real network (three organisations) and a real grpcio server on 127.0.0.1 with TLS; the script
tests/interop/gateway_client.mjs drives it with ``@hyperledger/fabric-gateway`` (the version pinned
in tests/interop/package-lock.json) and prints what it saw as JSON. This module asserts that
output and cross-checks it with the node's ledger. The npm packages are installed with ``npm ci``
into /.interop/fabric-gateway (git-ignored) and reused while the lock file is unchanged.

Skipped only when ``node`` or ``npm`` is not installed. docs/interop.md has the details.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fabric_protos.common import common_pb2
from node_support import cast_request, open_question_spec, voter_key

from mvote.chaincode import encoding
from mvote.chaincode._records import CastRequest
from mvote.client._receipt import issue_receipt
from mvote.node.material import NetworkMaterial, init_network
from mvote.node.runtime import Node
from mvote.node.services.server import NodeServer
from mvote.service._intake import Accepted, Refused, batch_outcomes
from mvote.verifier._block import block_header_hash
from mvote.verifier._receipt import verify_receipt

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
INSTALL_DIR = REPO / ".interop" / "fabric-gateway"
SCRIPT = HERE / "gateway_client.mjs"
ORGS = "cityhall,district,education"
CHANNEL = "mvote"
CHAINCODE = "mvote"
SCRIPT_TIMEOUT = 45
INSTALL_TIMEOUT = 600
TX_VALID = 0
#: gRPC status codes as the Node client reports them (GatewayError.code).
GRPC_UNKNOWN = 2
GRPC_ABORTED = 10

NODE = shutil.which("node")
NPM = shutil.which("npm")
pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None,
    reason="Node.js (node and npm) is not installed: the Fabric Node Gateway client cannot run",
)


def _lock_digest() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()


def install_packages() -> Path:
    """``npm ci`` from the committed lock file into INSTALL_DIR, unless an install from the same
    package.json and lock file is already there. Returns the folder holding node_modules.

    Holds a file lock meanwhile: pytest-xdist workers may each run this module's fixture."""
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    with (INSTALL_DIR.parent / "fabric-gateway.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install_locked()


def _install_locked() -> Path:
    stamp = INSTALL_DIR / ".installed-from"
    want = _lock_digest()
    if (
        stamp.is_file()
        and stamp.read_text() == want
        and (INSTALL_DIR / "node_modules" / "@hyperledger" / "fabric-gateway").is_dir()
    ):
        return INSTALL_DIR
    stamp.unlink(missing_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(HERE / name, INSTALL_DIR / name)
    # No install scripts run: none of the pinned packages needs one (pkcs11js, an optional
    # native module for HSM signing, stays unbuilt and unused).
    done = subprocess.run(
        [str(NPM), "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        cwd=INSTALL_DIR,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci failed in {INSTALL_DIR} ({done.returncode}):\n{done.stderr[-4000:]}")
    stamp.write_text(want)
    return INSTALL_DIR


def _who(material: NetworkMaterial, org: str, *, admin: bool) -> dict[str, str]:
    org_material = material.org(org)
    identity = org_material.admin if admin else org_material.client
    return {
        "mspId": identity.msp_id,
        "certPath": str(identity.cert_path),
        "keyPath": str(identity.key_path),
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Node, float]]:
    """The script's JSON output, the node it ran against, and how long the script took."""
    modules = install_packages()
    directory = tmp_path_factory.mktemp("interop") / "network"
    material = init_network(directory, ORGS)
    node = Node.open(directory)
    node.start()
    server = NodeServer(node, port=0, tls=True).start()
    try:
        peer = material.org("cityhall").node
        config = {
            "modules": str(modules),
            "address": server.address,
            # The name the client checks the server certificate against: the peer's host name,
            # one of the SANs of the peer's TLS certificate (127.0.0.1 is another).
            "hostAlias": peer.name,
            "tlsCaPath": str(server.tls_files.ca),
            "channel": CHANNEL,
            "chaincode": CHAINCODE,
            "checkpointPath": str(directory.parent / "checkpoint.json"),
            "admin": _who(material, "cityhall", admin=True),
            "client": _who(material, "district", admin=False),
            "batch": _batch_input(),
        }
        config_path = directory.parent / "client-config.json"
        config_path.write_text(json.dumps(config))
        started = time.monotonic()
        done = subprocess.run(
            [str(NODE), str(SCRIPT), str(config_path)],
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT,
            check=False,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
        elapsed = time.monotonic() - started
        try:
            output = json.loads(done.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            pytest.fail(
                f"the Node script printed no JSON (exit {done.returncode}):\n"
                f"stdout: {done.stdout[-4000:]}\nstderr: {done.stderr[-4000:]}"
            )
        if not output.get("ok"):
            pytest.fail(
                "the Node script stopped at an unexpected error:\n"
                f"{json.dumps(output.get('error'), indent=2)}\nstderr: {done.stderr[-4000:]}"
            )
        if os.environ.get("MVOTE_INTEROP_DUMP"):
            Path(os.environ["MVOTE_INTEROP_DUMP"]).write_text(json.dumps(output, indent=2))
        yield output, node, elapsed
    finally:
        server.stop(grace=1)
        node.stop()


#: The batch the script submits: two voters' good ballots around one refused (no credential).
BATCH_QID = "interop-batch"
BATCH_CREATED = time.time()


def _batch_requests() -> list[CastRequest]:
    spec = open_question_spec(BATCH_QID, BATCH_CREATED)
    good = [cast_request(CHANNEL, spec, voter_key(i), i % 2) for i in (1, 2)]
    refused = dataclasses.replace(cast_request(CHANNEL, spec, voter_key(3), 0), credential=None)
    return [good[0], refused, good[1]]


def _batch_input() -> dict[str, Any]:
    spec = open_question_spec(BATCH_QID, BATCH_CREATED)
    return {
        "qid": BATCH_QID,
        "spec": encoding.encode(spec).decode(),
        "ballots": [encoding.encode(r.to_json()).decode() for r in _batch_requests()],
    }


def _json(text: str) -> Any:
    return encoding.decode(text.encode(), max_size=1 << 20, what="result")


def _committed_valid(node: Node, tx_id: str, block: str | int) -> None:
    location = node.ledger.tx_location(tx_id)
    assert location is not None, f"{tx_id} is not on the ledger"
    assert (location.block, location.code) == (int(block), TX_VALID)


def test_script_completed(run: tuple[dict[str, Any], Node, float]) -> None:
    output, _, elapsed = run
    assert output["ok"], json.dumps(output.get("error"), indent=2)
    assert output["versions"]["fabricGateway"] == _locked_version("@hyperledger/fabric-gateway")
    assert output["versions"]["grpcJs"] == _locked_version("@grpc/grpc-js")
    assert output["network"] == CHANNEL
    assert elapsed < SCRIPT_TIMEOUT


def _locked_version(package: str) -> str:
    lock = json.loads((HERE / "package-lock.json").read_text())
    return str(lock["packages"][f"node_modules/{package}"]["version"])


def test_evaluate_and_submit_transaction(run: tuple[dict[str, Any], Node, float]) -> None:
    output, _, _ = run
    assert output["listQuestionsBefore"] == "[]"
    assert output["roster1Spec"] == '{"rid":"interop-r1","title":"Interop roster one"}'
    created = _json(output["submitResult"])
    assert created["rid"] == "interop-r1"
    assert created["owner"] == "CityhallMSP"
    # The roster the admin created, read back by another organisation's client identity.
    assert _json(output["getRosterByClient"]) == created


def test_submit_async_and_commit_status(run: tuple[dict[str, Any], Node, float]) -> None:
    output, node, _ = run
    submitted = output["submitAsync"]
    status = submitted["status"]
    assert _json(submitted["result"])["rid"] == "interop-r2"
    assert status["transactionId"] == submitted["transactionId"]
    assert status["code"] == status["validCode"] == TX_VALID
    assert status["successful"] is True
    _committed_valid(node, submitted["transactionId"], status["blockNumber"])


def test_stage_by_stage(run: tuple[dict[str, Any], Node, float]) -> None:
    output, node, _ = run
    stages = output["stages"]
    tx_id = stages["proposal"]["transactionId"]
    assert len(tx_id) == 64
    for stage in ("proposal", "transaction", "commit"):
        assert stages[stage]["transactionId"] == tx_id
        assert stages[stage]["bytesLength"] > 0
        assert len(bytes.fromhex(stages[stage]["digestHex"])) == 32
    digests = {stages[s]["digestHex"] for s in ("proposal", "transaction", "commit")}
    assert len(digests) == 3
    assert _json(stages["transaction"]["result"])["rid"] == "interop-r3"
    assert stages["commit"]["result"] == stages["transaction"]["result"]
    assert stages["status"]["transactionId"] == tx_id
    assert (stages["status"]["code"], stages["status"]["successful"]) == (TX_VALID, True)
    _committed_valid(node, tx_id, stages["status"]["blockNumber"])


def test_offline_signed_stages(run: tuple[dict[str, Any], Node, float]) -> None:
    """Proposal, transaction and commit request signed outside the SDK over their digests."""
    output, node, _ = run
    offline = output["offline"]
    assert offline["committedId"] == offline["transactionId"]
    assert (offline["code"], offline["successful"]) == (TX_VALID, True)
    assert _json(offline["result"])["rid"] == "interop-r4"
    _committed_valid(node, offline["transactionId"], offline["blockNumber"])


def _refusal(output: dict[str, Any], step: str) -> dict[str, Any]:
    found = [r for r in output["refusals"] if r["step"] == step]
    assert len(found) == 1
    refusal: dict[str, Any] = found[0]
    assert refusal["thrown"], f"{step} did not fail: {refusal}"
    return refusal


@pytest.mark.parametrize(
    ("step", "code"),
    [
        ("submit-duplicate-roster", "ALREADY_EXISTS"),
        ("submit-get-missing-roster", "NOT_FOUND"),
        ("client-create-roster", "UNAUTHORISED"),
    ],
)
def test_chaincode_refusal_is_endorse_error(
    run: tuple[dict[str, Any], Node, float], step: str, code: str
) -> None:
    output, node, _ = run
    refusal = _refusal(output, step)
    assert refusal["class"] == "EndorseError"
    assert refusal["isEndorseError"] and refusal["isGatewayError"]
    assert refusal["code"] == GRPC_ABORTED
    assert "failed to endorse transaction" in refusal["message"]
    assert len(refusal["transactionId"]) == 64
    assert refusal["details"], "the EndorseError carries no ErrorDetails"
    # The gateway's own organisation endorses first (Fabric's planFromFirstEndorser).
    assert refusal["details"][0]["mspId"] == "CityhallMSP"
    for detail in refusal["details"]:
        assert detail["message"].startswith(f"chaincode response 400, {code}: ")
        assert detail["mspId"].endswith("MSP")
        assert detail["address"]
    # Refused at endorsement: nothing of it reached the ledger.
    assert node.ledger.tx_location(refusal["transactionId"]) is None


def test_evaluate_refusal_is_gateway_error(run: tuple[dict[str, Any], Node, float]) -> None:
    output, _, _ = run
    refusal = _refusal(output, "evaluate-missing-roster")
    assert refusal["class"] == "GatewayError"
    assert not refusal["isEndorseError"]
    assert refusal["code"] == GRPC_UNKNOWN
    assert "NOT_FOUND: rid: no roster 'interop-none'" in refusal["message"]
    [detail] = refusal["details"]
    assert detail["message"] == "chaincode response 400, NOT_FOUND: rid: no roster 'interop-none'"
    assert detail["mspId"] == "CityhallMSP"


def test_chaincode_events_with_checkpointer(run: tuple[dict[str, Any], Node, float]) -> None:
    output, node, _ = run
    events = output["chaincodeEvents"]
    first, resumed = events["first"], events["afterCheckpoint"]
    # From the block of the submitAsync transaction: its event first ...
    assert first["transactionId"] == output["submitAsync"]["transactionId"]
    assert first["blockNumber"] == events["startBlock"]
    assert (first["chaincodeName"], first["eventName"]) == (CHAINCODE, "RosterChanged")
    assert _json(first["payload"]) == {"count": 0, "rid": "interop-r2", "sealed": False}
    # ... and after the checkpoint, the next transaction's (the stage-by-stage one).
    assert events["checkpoint"] == {
        "blockNumber": first["blockNumber"],
        "transactionId": first["transactionId"],
    }
    assert resumed["transactionId"] == output["stages"]["proposal"]["transactionId"]
    assert _json(resumed["payload"])["rid"] == "interop-r3"
    assert int(resumed["blockNumber"]) >= int(first["blockNumber"])
    _committed_valid(node, resumed["transactionId"], resumed["blockNumber"])


def test_block_and_filtered_block_events(run: tuple[dict[str, Any], Node, float]) -> None:
    output, node, _ = run
    tx_id = output["stages"]["proposal"]["transactionId"]
    number = output["stages"]["status"]["blockNumber"]
    block = output["blockEvents"]
    assert block["number"] == number
    assert tx_id in block["txIds"]
    assert block["metadataSlots"] >= 3
    ledger_block = common_pb2.Block.FromString(node.ledger.block(int(number)))
    assert len(block["txIds"]) == len(ledger_block.data.data)

    filtered = output["filteredBlockEvents"]
    assert (filtered["number"], filtered["channelId"]) == (number, CHANNEL)
    [tx] = [t for t in filtered["transactions"] if t["txId"] == tx_id]
    assert tx["validationCode"] == TX_VALID
    assert tx["type"] == 3  # ENDORSER_TRANSACTION
    # Filtered blocks carry the chaincode event without its payload.
    assert tx["events"] == [
        {"chaincodeId": CHAINCODE, "eventName": "RosterChanged", "payloadLength": 0}
    ]
    assert [t["txId"] for t in filtered["transactions"]] == block["txIds"]


def test_live_delivery_of_a_new_block(run: tuple[dict[str, Any], Node, float]) -> None:
    """Streams opened at a block not yet committed receive it when a later submit commits."""
    output, node, _ = run
    live = output["live"]
    assert int(live["blockNumber"]) >= int(live["requestedStart"])
    assert live["filteredNumber"] == live["blockNumber"] == live["status"]["blockNumber"]
    assert live["filteredCode"] == live["status"]["code"] == TX_VALID
    assert live["event"]["transactionId"] == live["transactionId"]
    assert _json(live["event"]["payload"])["rid"] == "interop-r5"
    _committed_valid(node, live["transactionId"], live["blockNumber"])


def test_resubmitted_transaction_is_submit_error(run: tuple[dict[str, Any], Node, float]) -> None:
    """The orderer of the embedded node refuses a tx id it has committed (Fabric's would order
    it and the peer would invalidate it as DUPLICATE_TXID): the client gets its SubmitError."""
    output, node, _ = run
    refusal = output["resubmit"]
    assert refusal["thrown"], refusal
    assert refusal["class"] == "SubmitError"
    assert refusal["isGatewayError"] and not refusal["isEndorseError"]
    assert refusal["code"] == GRPC_ABORTED
    tx_id = output["stages"]["proposal"]["transactionId"]
    assert refusal["transactionId"] == tx_id
    assert "status=BAD_REQUEST, info=DUPLICATE_TRANSACTION: " in refusal["message"]
    [detail] = refusal["details"]
    assert detail["mspId"] == "OrdererMSP"
    # Still one transaction with that id on the ledger, the first one, VALID.
    _committed_valid(node, tx_id, output["stages"]["status"]["blockNumber"])


def test_block_and_private_data_events(run: tuple[dict[str, Any], Node, float]) -> None:
    output, _, _ = run
    events = output["blockAndPrivateDataEvents"]
    assert events["number"] == output["blockEvents"]["number"]
    assert events["txIds"] == output["blockEvents"]["txIds"]
    assert events["privateDataEntries"] == 0


def test_a_batch_of_ballots_through_the_node_sdk(run: tuple[dict[str, Any], Node, float]) -> None:
    """CastBatch submitted by the official SDK as any transaction: committed VALID, each
    ballot's outcome in the result, each accepted ballot's receipt verifying offline."""
    output, node, _ = run
    batch = output["batch"]
    assert (batch["status"]["code"], batch["status"]["successful"]) == (TX_VALID, True)
    _committed_valid(node, batch["transactionId"], batch["status"]["blockNumber"])
    requests = _batch_requests()
    outcomes = batch_outcomes(batch["result"].encode(), len(requests))
    assert isinstance(outcomes[1], Refused) and outcomes[1].refusal.code == "NOT_ELIGIBLE"
    anchor = node.ledger.block(0)
    genesis_hash = _genesis_hash(anchor)
    for outcome, request in zip(outcomes, requests, strict=True):
        if isinstance(outcome, Refused):
            continue
        assert isinstance(outcome, Accepted)
        assert outcome.tracker == request.ballot.tracker()
        receipt = issue_receipt(
            node.ledger.block,
            tx_id=batch["transactionId"],
            block_number=int(batch["status"]["blockNumber"]),
            qid=BATCH_QID,
            tracker=outcome.tracker,
            ballot_index=outcome.index,
        )
        report = verify_receipt(receipt, anchor=genesis_hash)
        assert report.verified, [c for c in report.checks if not c.ok]


def _genesis_hash(raw: bytes) -> bytes:
    block = common_pb2.Block.FromString(raw)
    return block_header_hash(
        block.header.number, block.header.previous_hash, block.header.data_hash
    )
