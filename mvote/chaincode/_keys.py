"""mvote's on-chain key layout (composite keys) and the hashes that name voters.

| key                                 | holds                                         |
|-------------------------------------|-----------------------------------------------|
| question~{qid}                      | the question record                           |
| roster~{rid}                        | roster header: count, digest, sealed          |
| rosterentry~{rid}~{voter_hash}      | one eligible voter (hash of the key)          |
| ballot~{qid}~{shard}~{voter}        | the signed ballot                             |
| participation~{voter}~{qid}         | the voter's history entry                     |
| aggregate~{qid}~{shard}             | a shard's running sums and cursor             |
| tally~{qid}                         | the result                                    |
| ceremony~{cid}                      | a key ceremony: trustees, state, election key |
| dealing~{cid}~{trustee:03d}         | a trustee's commitments and encrypted shares  |
| ceremonycheck~{cid}~{trustee:03d}   | a trustee's acceptance or complaints          |
| decryption~{qid}~{trustee:03d}      | a trustee's partial decryptions of the totals |

No ballot transaction writes a key that another voter's ballot transaction reads or writes.
"""

from __future__ import annotations

import hashlib

from ._stub import create_composite_key

QUESTION = "question"
ROSTER = "roster"
ROSTER_ENTRY = "rosterentry"
BALLOT = "ballot"
PARTICIPATION = "participation"
AGGREGATE = "aggregate"
TALLY = "tally"
CEREMONY = "ceremony"
DEALING = "dealing"
CEREMONY_CHECK = "ceremonycheck"
DECRYPTION = "decryption"
#: spoiled~{qid}~{tracker}: an audited secret ballot and its opening (contract mvote-2).
SPOILED = "spoiled"

#: Trustee indices (1..255) are written with a fixed width so that keys sort by trustee.
TRUSTEE_WIDTH = 3

#: Shard numbers are written with a fixed width so that keys sort by shard.
SHARD_WIDTH = 4

_VOTER_HASH_DOMAIN = b"mvote/voter-hash/v1\x00"


def voter_hash(voter_public_key: bytes) -> bytes:
    """The roster's name for a voter: SHA-256 of a domain tag and the Ed25519 public key."""
    return hashlib.sha256(_VOTER_HASH_DOMAIN + voter_public_key).digest()


def shard_of(voter_public_key: bytes, shards: int) -> int:
    """The voter's shard: the first 8 bytes of the voter hash, big-endian, modulo ``shards``."""
    return int.from_bytes(voter_hash(voter_public_key)[:8], "big") % shards


def shard_label(shard: int) -> str:
    return f"{shard:0{SHARD_WIDTH}d}"


def question_key(qid: str) -> str:
    return create_composite_key(QUESTION, [qid])


def roster_key(rid: str) -> str:
    return create_composite_key(ROSTER, [rid])


def roster_entry_key(rid: str, voter_hash_hex: str) -> str:
    return create_composite_key(ROSTER_ENTRY, [rid, voter_hash_hex])


def ballot_key(qid: str, shard: int, voter_hex: str) -> str:
    return create_composite_key(BALLOT, [qid, shard_label(shard), voter_hex])


def participation_key(voter_hex: str, qid: str) -> str:
    return create_composite_key(PARTICIPATION, [voter_hex, qid])


def aggregate_key(qid: str, shard: int) -> str:
    return create_composite_key(AGGREGATE, [qid, shard_label(shard)])


def tally_key(qid: str) -> str:
    return create_composite_key(TALLY, [qid])


def trustee_label(trustee: int) -> str:
    return f"{trustee:0{TRUSTEE_WIDTH}d}"


def ceremony_key(cid: str) -> str:
    return create_composite_key(CEREMONY, [cid])


def dealing_key(cid: str, trustee: int) -> str:
    return create_composite_key(DEALING, [cid, trustee_label(trustee)])


def ceremony_check_key(cid: str, trustee: int) -> str:
    return create_composite_key(CEREMONY_CHECK, [cid, trustee_label(trustee)])


def decryption_key(qid: str, trustee: int) -> str:
    return create_composite_key(DECRYPTION, [qid, trustee_label(trustee)])


def spoiled_key(qid: str, tracker: str) -> str:
    return create_composite_key(SPOILED, [qid, tracker])
