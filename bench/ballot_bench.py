"""The added cost per vote of contract mvote-2's question binding (issue 12): prepare + Cast +
receipt verification, in process, as ratios.

Run it on two trees and compare the ratios, never the absolute times (a loaded machine):

    .venv/bin/python -m bench.ballot_bench                       # this tree
    PYTHONPATH=/path/to/other/tree .venv/bin/python -m bench.ballot_bench   # another tree

Each figure is the median over ``--rounds`` rounds of the time per vote divided by the time of
one bare Ed25519 sign+verify pair measured in the same round (the crypto floor of a vote), so
the printed numbers compare across runs and trees:

- ``open``: ``prepare_ballot`` + the contract's ``Cast`` on a ``SerialLedger`` (open question,
  registrar credential);
- ``secret``: ``prepare_secret_ballot`` + ``verify_ballot`` (the proofs Cast checks), 4 options;
- ``receipt``: ``verify_receipt`` of a receipt issued on a real embedded node, with the blocks
  the client attaches (``with_context_blocks``).

Uses only APIs both contract versions have (specs from JSON, ``ballot_context`` from the client).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.signing

from mvote.chaincode import encoding
from mvote.chaincode._crypto import ballot as crypto_ballot
from mvote.chaincode._crypto import elgamal
from mvote.chaincode._records import QuestionSpec
from mvote.chaincode._simulation import SerialLedger
from mvote.client._ballot import prepare_ballot
from mvote.client._registrar import issue_credential
from mvote.client._secret import prepare_secret_ballot

REGISTRAR = nacl.signing.SigningKey(b"R" * 32)


def _spec(qid: str, mode: str = "open", opens: int = 100, closes: int = 10**9) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "qid": qid,
        "title": f"Question {qid}",
        "description": "",
        "options": ["a", "b", "c", "d"],
        "rule": {"kind": "single"},
        "eligibility": {"kind": "open", "registrars": [bytes(REGISTRAR.verify_key).hex()]},
        "schedule": {"opens_at": opens, "closes_at": closes},
        "mode": mode,
        "shards": 1,
    }
    if mode == "secret":
        spec["election"] = "c1"
    return spec


def _floor(n: int) -> float:
    key = nacl.signing.SigningKey(bytes(32))
    start = time.perf_counter()
    for i in range(n):
        signed = key.sign(i.to_bytes(8, "big"))
        key.verify_key.verify(signed)
    return time.perf_counter() - start


def _open_votes(n: int, round_: int) -> float:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from testkit import creator_bytes  # type: ignore[import-not-found]  # the tests' helper

    ledger = SerialLedger("mvote")
    admin = creator_bytes("Org1MSP", "admin")
    ledger.run(admin, "CreateQuestion", encoding.encode(_spec("q1")), timestamp=10)
    ledger.run(admin, "OpenQuestion", "q1", timestamp=11)
    spec = QuestionSpec.from_json(_spec("q1"))
    voters = [
        nacl.signing.SigningKey(round_.to_bytes(4, "big") + i.to_bytes(28, "big")) for i in range(n)
    ]
    credentials = [
        issue_credential(
            REGISTRAR, channel="mvote", voter=bytes(v.verify_key).hex(), expires_at=2**40
        )
        for v in voters
    ]
    start = time.perf_counter()
    for voter, credential in zip(voters, credentials, strict=True):
        request = prepare_ballot(
            voter, channel="mvote", question=spec, choices=[1], credential=credential
        )
        done = ledger.run(admin, "Cast", encoding.encode(request.to_json()), timestamp=500)
        if not done.ok:
            raise RuntimeError(done.response.message)
    return time.perf_counter() - start


def _secret_votes(n: int, _round: int) -> float:
    from mvote.client._secret import ballot_context

    key = elgamal.keypair(12345)
    spec = QuestionSpec.from_json(_spec("s1", "secret"))
    voters = [nacl.signing.SigningKey(i.to_bytes(32, "big")) for i in range(1, n + 1)]
    start = time.perf_counter()
    for voter in voters:
        prepared = prepare_secret_ballot(
            voter, channel="mvote", question=spec, election_key=key, choices=[2]
        )
        ctx = ballot_context(
            election_key=key, channel="mvote", question=spec, voter=bytes(voter.verify_key)
        )
        crypto_ballot.verify_ballot(ctx, prepared.request.ballot.encrypted)  # type: ignore[union-attr]
    return time.perf_counter() - start


def _receipt_verifier(workdir: Path) -> Callable[[int, int], float]:
    """A node with one committed ballot; the timer verifies its receipt ``n`` times."""
    from mvote.client._identity import load_signer
    from mvote.client._proposal import new_proposal, sign_envelope
    from mvote.client._receipt import issue_receipt
    from mvote.node.material import init_network
    from mvote.node.runtime import Node
    from mvote.verifier._receipt import verify_receipt, with_context_blocks

    network = init_network(workdir / "net", "cityhall,district,education")
    node = Node.open(workdir / "net")
    node.start()
    admin = network.org("cityhall").admin
    signer = load_signer(admin.msp_dir, admin.msp_id)

    def submit(*args: bytes | str) -> tuple[str, int]:
        proposal = new_proposal(signer, channel_id="mvote", chaincode="mvote", args=list(args))
        envelope, _ = node.endorse(proposal.signed())
        node.submit(sign_envelope(envelope.payload, signer))
        return proposal.transaction_id, node.commit_status(proposal.transaction_id, 30).block

    now = int(time.time())
    submit("CreateQuestion", encoding.encode(_spec("q1", opens=now - 60, closes=now + 3600)))
    submit("OpenQuestion", "q1")
    voter = nacl.signing.SigningKey(b"V" * 32)
    credential = issue_credential(
        REGISTRAR, channel="mvote", voter=bytes(voter.verify_key).hex(), expires_at=2**40
    )
    spec = QuestionSpec.from_json(_spec("q1", opens=now - 60, closes=now + 3600))
    request = prepare_ballot(
        voter, channel="mvote", question=spec, choices=[0], credential=credential
    )
    tx_id, block = submit("Cast", encoding.encode(request.to_json()))
    receipt = issue_receipt(
        node.ledger.block,
        tx_id=tx_id,
        block_number=block,
        qid="q1",
        tracker=request.ballot.tracker(),
    )
    receipt = with_context_blocks(receipt, node.ledger.block)
    node.stop()

    def run(n: int, _round: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            if not verify_receipt(receipt, anchor=network.genesis_hash).verified:
                raise RuntimeError("the receipt does not verify")
        return time.perf_counter() - start

    return run


#: Sign+verify pairs timed for the floor of each round (a millisecond is too short to time).
FLOOR_PAIRS = 2000


def _ratio(measure: Callable[[int, int], float], n: int, rounds: int) -> float:
    """Median over rounds of (seconds per vote) / (seconds per sign+verify pair)."""
    ratios = []
    for r in range(rounds):
        per_pair = _floor(FLOOR_PAIRS) / FLOOR_PAIRS
        ratios.append(measure(n, r) / n / per_pair)
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ballot_bench")
    parser.add_argument("--votes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import mvote.chaincode._contract as contract

    print(f"contract {contract.VERSION} ({Path(contract.__file__).parents[2]})")
    print(
        f"open   prepare+Cast per vote  = {_ratio(_open_votes, args.votes, args.rounds):8.2f} x (sign+verify)"
    )
    print(
        f"secret prepare+proofs per vote = {_ratio(_secret_votes, args.votes // 10, args.rounds):8.2f} x (sign+verify)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        verify = _receipt_verifier(Path(tmp))
        print(
            f"receipt verify                 = {_ratio(verify, args.votes // 10, args.rounds):8.2f} x (sign+verify)"
        )


if __name__ == "__main__":
    main()
