"""The stable names of the audit's checks: every finding carries one :class:`Check` member.

A finding of the chain walk (:mod:`mvote.verifier._chain`), of a transaction's validation
(:mod:`mvote.verifier._validation`, the failing check behind a validation code) or of the
replay (:mod:`mvote.verifier._replay`) names exactly one of these; the string values are the
names reports have always printed (text and JSON), so reports read as before.
"""

from __future__ import annotations

import enum

__all__ = ["CHAIN_CHECKS", "REPLAY_CHECKS", "Check"]


class Check(enum.StrEnum):
    # --- blocks (mvote.verifier._chain), in the order they are checked
    BLOCK_MALFORMED = "block_malformed"
    BLOCK_NUMBER = "block_number"
    GENESIS_HASH = "genesis_hash"
    PREVIOUS_HASH = "previous_hash"
    DATA_HASH = "data_hash"
    TX_WELL_FORMED = "tx_well_formed"
    ORDERER_SIGNATURE = "orderer_signature"
    BLOCK_VALIDATION_POLICY = "block_validation_policy"
    LAST_CONFIG = "last_config"
    TRANSACTIONS_FILTER = "transactions_filter"
    VALIDATION_CODE = "validation_code"
    CONFIG = "config"
    # why a config transaction is refused (mvote.verifier._configtx)
    CONFIG_UPDATE = "config_update"
    CONFIG_READ_SET = "config_read_set"
    CONFIG_WRITE_SET = "config_write_set"
    CONFIG_MOD_POLICY = "config_mod_policy"
    CONFIG_RESULT = "config_result"
    COMMIT_HASH = "commit_hash"
    METADATA = "metadata"
    # the failing check behind a validation code (mvote.verifier._validation)
    TX_MALFORMED = "tx_malformed"
    CHANNEL_HEADER = "channel_header"
    TX_TYPE = "tx_type"
    CREATOR_IDENTITY = "creator_identity"
    CREATOR_SIGNATURE = "creator_signature"
    TX_ID = "tx_id"
    PROPOSAL_HASH = "proposal_hash"
    DUPLICATE_TXID = "duplicate_txid"
    CHAINCODE_ID = "chaincode_id"
    CHAINCODE_DEFINITION = "chaincode_definition"
    RWSET = "rwset"
    ENDORSEMENT_IDENTITY = "endorsement_identity"
    ENDORSEMENT_SIGNATURE = "endorsement_signature"
    ENDORSEMENT_POLICY = "endorsement_policy"
    MVCC = "mvcc"
    # never silently passed
    KEY_LEVEL_ENDORSEMENT = "key_level_endorsement"
    RANGE_QUERY_SUMMARY = "range_query_summary"
    # a failure no check foresaw (a transaction: INVALID_OTHER_REASON; a block: the walk stops)
    VERIFIER_ERROR = "verifier_error"
    # --- the replay (mvote.verifier._replay)
    REPLAY_MALFORMED = "replay_malformed"
    REPLAY_NAMESPACES = "replay_namespaces"
    REPLAY_RESPONSE = "replay_response"
    REPLAY_READS = "replay_reads"
    REPLAY_WRITES = "replay_writes"
    REPLAY_EVENT = "replay_event"
    TALLY_RECOUNT = "tally_recount"
    # --- the audit against values published elsewhere (mvote.verifier._audit)
    HEIGHT = "height"
    LAST_BLOCK_HASH = "last_block_hash"


#: The replay's checks (each of its findings names one of these, or ``verifier_error``).
REPLAY_CHECKS = frozenset(
    {
        Check.REPLAY_MALFORMED,
        Check.REPLAY_NAMESPACES,
        Check.REPLAY_RESPONSE,
        Check.REPLAY_READS,
        Check.REPLAY_WRITES,
        Check.REPLAY_EVENT,
        Check.TALLY_RECOUNT,
    }
)
#: The audit's checks against a height or last block hash published elsewhere.
EXPECTED_CHECKS = frozenset({Check.HEIGHT, Check.LAST_BLOCK_HASH})
#: The chain walk's and validation's checks.
CHAIN_CHECKS = frozenset(Check) - REPLAY_CHECKS - EXPECTED_CHECKS
