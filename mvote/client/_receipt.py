"""Issuing a ballot receipt: only for a committed transaction the peer recorded VALID.

Blocks come from a ``BlockSource`` (the Deliver service of any peer, or a local ledger); the
receipt carries the three blocks a voter's device needs to check it offline (see
mvote.verifier._receipt).
"""

from __future__ import annotations

from collections.abc import Callable

from mvote.chaincode import encoding
from mvote.chaincode._contract import MAX_SECRET_CAST_BYTES
from mvote.chaincode._errors import InvalidField, MvoteError
from mvote.chaincode._functions import FunctionName
from mvote.chaincode._records import CastRequest
from mvote.verifier._block import block_header_hash
from mvote.verifier._envelope import unpack_block
from mvote.verifier._receipt import Receipt, definition_version
from mvote.verifier._transaction import ParsedTransaction

#: block number -> the raw serialized block, as committed by a peer.
BlockSource = Callable[[int], bytes]


def issue_receipt(
    blocks: BlockSource,
    *,
    tx_id: str,
    block_number: int,
    qid: str,
    tracker: str,
    chaincode: str = "mvote",
    ballot_index: int | None = None,
) -> Receipt:
    """The receipt of a ballot in a committed, VALID transaction: a Cast, or ballot
    ``ballot_index`` of a CastBatch (None: found by its tracker among the batch's ballots)."""
    genesis = unpack_block(blocks(0))
    config_tx = ParsedTransaction.parse(genesis.data[0])
    ballot_raw = blocks(block_number)
    block = unpack_block(ballot_raw)
    indexes = [i for i, raw in enumerate(block.data) if ParsedTransaction.parse(raw).tx_id == tx_id]
    if not indexes:
        raise InvalidField(f"tx_id: {tx_id} is not in block {block_number}", field="tx_id")
    index = indexes[0]
    code = block.metadata_slot(2)[index]
    if code != 0:
        raise InvalidField(
            f"tx_id: {tx_id} was committed with validation code {code}, not VALID: no receipt",
            field="tx_id",
        )
    if ballot_index is None:
        ballot_index = batch_index_of(ParsedTransaction.parse(block.data[index]), tracker)
    version = definition_version(block.data[index], chaincode)
    if version is None:
        raise InvalidField(f"tx_id: {tx_id} reads no {chaincode} definition", field="tx_id")
    proof = {0: blocks(0), version[0]: blocks(version[0]), block_number: ballot_raw}
    return Receipt(
        channel=config_tx.channel_id,
        genesis_hash=block_header_hash(0, genesis.previous_hash, genesis.data_hash).hex(),
        chaincode=chaincode,
        qid=qid,
        tracker=tracker,
        tx_id=tx_id,
        block=block_number,
        tx_index=index,
        proof=proof,
        ballot_index=ballot_index,
    )


def batch_index_of(tx: ParsedTransaction, tracker: str) -> int | None:
    """The place of the ballot with ``tracker`` among a CastBatch's ballots; None for any other
    transaction (a Cast carries one ballot). InvalidField naming ``tracker`` when the batch
    carries no such ballot. Arguments that are not a Cast request (a ballot the batch refused
    as malformed) are passed over."""
    args = tx.args
    if not args or args[0] != FunctionName.CAST_BATCH.encode():
        return None
    for index, raw in enumerate(args[1:]):
        try:
            request = CastRequest.from_json(
                encoding.decode(raw, max_size=MAX_SECRET_CAST_BYTES, what="request")
            )
        except MvoteError:
            continue
        if request.ballot.tracker() == tracker:
            return index
    raise InvalidField(f"tracker: no ballot {tracker} in the batch {tx.tx_id}", field="tracker")
