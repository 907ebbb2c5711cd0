"""The committer commits what validation decided (tx ids from the orderer queue, codes and
read-write sets from the verdicts); recovery derives the same changes from the block bytes.

Both must agree on every real block the node cuts, invalid transactions included: otherwise a
node rolled forward after a crash would hold another state and tx index than its first commit.
"""

from __future__ import annotations

from pathlib import Path

from node_support import (
    ENDORSEMENT_POLICY_FAILURE,
    MVCC_READ_CONFLICT,
    ORGS,
    VALID,
    Client,
    voter_key,
)

from mvote.node.config import BatchSettings
from mvote.node.ledger.store import AppliedBlock
from mvote.node.ledger.updates import derive_updates, read_block
from mvote.node.material import init_network
from mvote.node.parallel import MIN_PARALLEL_TXS
from mvote.node.runtime import Node

BATCH = BatchSettings(max_message_count=MIN_PARALLEL_TXS + 4, timeout_ms=300)


def test_committed_changes_equal_the_changes_derived_from_the_block_file(tmp_path: Path) -> None:
    material = init_network(tmp_path / "net", ORGS, batch=BATCH)
    applied: list[AppliedBlock] = []
    with Node.open(material.directory) as node:
        node.add_commit_listener(applied.append)
        node.start()
        client = Client(node, material)
        spec = client.open_question("q-outcomes")
        one_org = [material.peer_orgs[0].msp_id]
        # Two rounds of large blocks: the first starts the validation worker, the second may
        # use it; each round holds a second ballot of one voter (MVCC_READ_CONFLICT) and a
        # ballot endorsed by one organisation of three (ENDORSEMENT_POLICY_FAILURE).
        for round_ in range(2):
            voters = [voter_key(100 * round_ + i) for i in range(MIN_PARALLEL_TXS + 2)]
            envelopes = [client.endorsed("Cast", client.cast_args(spec, v, 0))[:2] for v in voters]
            envelopes.append(client.endorsed("Cast", client.cast_args(spec, voters[0], 1))[:2])
            lone = voter_key(100 * round_ + 99)
            envelopes.append(
                client.endorsed("Cast", client.cast_args(spec, lone, 0), organizations=one_org)[:2]
            )
            for _, envelope in envelopes:
                node.submit(envelope)
            for tx_id, _ in envelopes:
                node.commit_status(tx_id, timeout=60)
        assert applied, "the listener saw no commit"
        codes = {tx.code for commit in applied for tx in commit.updates.txs}
        assert {VALID, MVCC_READ_CONFLICT, ENDORSEMENT_POLICY_FAILURE} <= codes
        assert max(len(c.updates.txs) for c in applied) >= MIN_PARALLEL_TXS
        for commit in applied:
            derived = derive_updates(read_block(node.ledger.block(commit.updates.number)))
            assert commit.updates == derived, f"block {commit.updates.number}"
