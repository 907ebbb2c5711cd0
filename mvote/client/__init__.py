"""Identities, signing, the Fabric Gateway client, ballot preparation and receipts; the typed
voting contract and the recipes an integrator calls.

May import: mvote.verifier, mvote.chaincode. Never mvote.node.

The public names are in ``__all__``; modules and names starting with an underscore are private.
"""

from mvote.client import recipes
from mvote.client._ballot import prepare_ballot
from mvote.client._channel import GatewayChannel
from mvote.client._errors import (
    BadReply,
    CommitError,
    CommitStatusError,
    EndorseError,
    GatewayError,
    QuestionOpen,
    SubmitError,
)
from mvote.client._gateway import Gateway
from mvote.client._identity import Signer, load_signer
from mvote.client._receipt import issue_receipt
from mvote.client._secret import prepare_secret_ballot
from mvote.client._voting import (
    CastResult,
    Committed,
    GatewayTransactor,
    Recorded,
    SpoilResult,
    Transactor,
    VotingContract,
)
from mvote.client._wallet import Wallet, WrongPassphrase
from mvote.client.recipes import (
    CreatedQuestion,
    Decrypted,
    RosterAdded,
    TallyOutcome,
    Voted,
    add_roster,
    create_question,
    dealing_posting,
    post_decryption,
    prepare_vote,
    receipt_for,
    roster_keys_from_csv,
    tally,
    vote,
)

__all__ = [
    "BadReply",
    "CastResult",
    "CommitError",
    "CommitStatusError",
    "Committed",
    "CreatedQuestion",
    "Decrypted",
    "EndorseError",
    "Gateway",
    "GatewayChannel",
    "GatewayError",
    "GatewayTransactor",
    "QuestionOpen",
    "Recorded",
    "RosterAdded",
    "Signer",
    "SpoilResult",
    "SubmitError",
    "TallyOutcome",
    "Transactor",
    "Voted",
    "VotingContract",
    "Wallet",
    "WrongPassphrase",
    "add_roster",
    "create_question",
    "dealing_posting",
    "issue_receipt",
    "load_signer",
    "post_decryption",
    "prepare_ballot",
    "prepare_secret_ballot",
    "prepare_vote",
    "receipt_for",
    "recipes",
    "roster_keys_from_csv",
    "tally",
    "vote",
]
