from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CastRequest(_message.Message):
    __slots__ = ("request", "with_receipt")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    WITH_RECEIPT_FIELD_NUMBER: _ClassVar[int]
    request: bytes
    with_receipt: bool
    def __init__(self, request: _Optional[bytes] = ..., with_receipt: bool = ...) -> None: ...

class CastResponse(_message.Message):
    __slots__ = ("qid", "tracker", "tx_id", "block_number", "shard", "receipt")
    QID_FIELD_NUMBER: _ClassVar[int]
    TRACKER_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    qid: str
    tracker: str
    tx_id: str
    block_number: int
    shard: int
    receipt: bytes
    def __init__(self, qid: _Optional[str] = ..., tracker: _Optional[str] = ..., tx_id: _Optional[str] = ..., block_number: _Optional[int] = ..., shard: _Optional[int] = ..., receipt: _Optional[bytes] = ...) -> None: ...

class CastStreamRequest(_message.Message):
    __slots__ = ("ref", "request")
    REF_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    ref: str
    request: bytes
    def __init__(self, ref: _Optional[str] = ..., request: _Optional[bytes] = ...) -> None: ...

class Refusal(_message.Message):
    __slots__ = ("code", "field", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    field: str
    message: str
    def __init__(self, code: _Optional[str] = ..., field: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class CastStreamResponse(_message.Message):
    __slots__ = ("ref", "accepted", "committed", "refused")
    REF_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    ref: str
    accepted: Accepted
    committed: Committed
    refused: Refusal
    def __init__(self, ref: _Optional[str] = ..., accepted: _Optional[_Union[Accepted, _Mapping]] = ..., committed: _Optional[_Union[Committed, _Mapping]] = ..., refused: _Optional[_Union[Refusal, _Mapping]] = ...) -> None: ...

class Accepted(_message.Message):
    __slots__ = ("qid", "tracker")
    QID_FIELD_NUMBER: _ClassVar[int]
    TRACKER_FIELD_NUMBER: _ClassVar[int]
    qid: str
    tracker: str
    def __init__(self, qid: _Optional[str] = ..., tracker: _Optional[str] = ...) -> None: ...

class Committed(_message.Message):
    __slots__ = ("qid", "tracker", "tx_id", "block_number", "shard")
    QID_FIELD_NUMBER: _ClassVar[int]
    TRACKER_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    qid: str
    tracker: str
    tx_id: str
    block_number: int
    shard: int
    def __init__(self, qid: _Optional[str] = ..., tracker: _Optional[str] = ..., tx_id: _Optional[str] = ..., block_number: _Optional[int] = ..., shard: _Optional[int] = ...) -> None: ...

class SpoilBallotRequest(_message.Message):
    __slots__ = ("request", "with_file")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    WITH_FILE_FIELD_NUMBER: _ClassVar[int]
    request: bytes
    with_file: bool
    def __init__(self, request: _Optional[bytes] = ..., with_file: bool = ...) -> None: ...

class SpoilBallotResponse(_message.Message):
    __slots__ = ("qid", "tracker", "choices", "tx_id", "block_number", "spoiled_file")
    QID_FIELD_NUMBER: _ClassVar[int]
    TRACKER_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SPOILED_FILE_FIELD_NUMBER: _ClassVar[int]
    qid: str
    tracker: str
    choices: _containers.RepeatedScalarFieldContainer[int]
    tx_id: str
    block_number: int
    spoiled_file: bytes
    def __init__(self, qid: _Optional[str] = ..., tracker: _Optional[str] = ..., choices: _Optional[_Iterable[int]] = ..., tx_id: _Optional[str] = ..., block_number: _Optional[int] = ..., spoiled_file: _Optional[bytes] = ...) -> None: ...

class GetQuestionRequest(_message.Message):
    __slots__ = ("qid",)
    QID_FIELD_NUMBER: _ClassVar[int]
    qid: str
    def __init__(self, qid: _Optional[str] = ...) -> None: ...

class Question(_message.Message):
    __slots__ = ("qid", "title", "state", "owner", "mode", "options", "eligibility", "opens_at", "closes_at", "record")
    QID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    ELIGIBILITY_FIELD_NUMBER: _ClassVar[int]
    OPENS_AT_FIELD_NUMBER: _ClassVar[int]
    CLOSES_AT_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    qid: str
    title: str
    state: str
    owner: str
    mode: str
    options: _containers.RepeatedScalarFieldContainer[str]
    eligibility: str
    opens_at: int
    closes_at: int
    record: bytes
    def __init__(self, qid: _Optional[str] = ..., title: _Optional[str] = ..., state: _Optional[str] = ..., owner: _Optional[str] = ..., mode: _Optional[str] = ..., options: _Optional[_Iterable[str]] = ..., eligibility: _Optional[str] = ..., opens_at: _Optional[int] = ..., closes_at: _Optional[int] = ..., record: _Optional[bytes] = ...) -> None: ...

class ListQuestionsRequest(_message.Message):
    __slots__ = ("state", "owner", "mode", "eligibility", "search", "page_size", "page_token")
    STATE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    ELIGIBILITY_FIELD_NUMBER: _ClassVar[int]
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    state: str
    owner: str
    mode: str
    eligibility: str
    search: str
    page_size: int
    page_token: str
    def __init__(self, state: _Optional[str] = ..., owner: _Optional[str] = ..., mode: _Optional[str] = ..., eligibility: _Optional[str] = ..., search: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListQuestionsResponse(_message.Message):
    __slots__ = ("questions", "next_page_token", "total")
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    questions: _containers.RepeatedCompositeFieldContainer[Question]
    next_page_token: str
    total: int
    def __init__(self, questions: _Optional[_Iterable[_Union[Question, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total: _Optional[int] = ...) -> None: ...

class GetResultsRequest(_message.Message):
    __slots__ = ("qid",)
    QID_FIELD_NUMBER: _ClassVar[int]
    qid: str
    def __init__(self, qid: _Optional[str] = ...) -> None: ...

class Results(_message.Message):
    __slots__ = ("qid", "state", "final", "has_counts", "counts", "ballots", "tally")
    QID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    HAS_COUNTS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    BALLOTS_FIELD_NUMBER: _ClassVar[int]
    TALLY_FIELD_NUMBER: _ClassVar[int]
    qid: str
    state: str
    final: bool
    has_counts: bool
    counts: _containers.RepeatedScalarFieldContainer[int]
    ballots: int
    tally: bytes
    def __init__(self, qid: _Optional[str] = ..., state: _Optional[str] = ..., final: bool = ..., has_counts: bool = ..., counts: _Optional[_Iterable[int]] = ..., ballots: _Optional[int] = ..., tally: _Optional[bytes] = ...) -> None: ...

class GetReceiptRequest(_message.Message):
    __slots__ = ("qid", "voter")
    QID_FIELD_NUMBER: _ClassVar[int]
    VOTER_FIELD_NUMBER: _ClassVar[int]
    qid: str
    voter: str
    def __init__(self, qid: _Optional[str] = ..., voter: _Optional[str] = ...) -> None: ...

class Receipt(_message.Message):
    __slots__ = ("qid", "tracker", "tx_id", "block_number", "receipt")
    QID_FIELD_NUMBER: _ClassVar[int]
    TRACKER_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    qid: str
    tracker: str
    tx_id: str
    block_number: int
    receipt: bytes
    def __init__(self, qid: _Optional[str] = ..., tracker: _Optional[str] = ..., tx_id: _Optional[str] = ..., block_number: _Optional[int] = ..., receipt: _Optional[bytes] = ...) -> None: ...

class GetHistoryRequest(_message.Message):
    __slots__ = ("voter",)
    VOTER_FIELD_NUMBER: _ClassVar[int]
    voter: str
    def __init__(self, voter: _Optional[str] = ...) -> None: ...

class Participation(_message.Message):
    __slots__ = ("qid", "tracker", "tx_id", "at")
    QID_FIELD_NUMBER: _ClassVar[int]
    TRACKER_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    qid: str
    tracker: str
    tx_id: str
    at: int
    def __init__(self, qid: _Optional[str] = ..., tracker: _Optional[str] = ..., tx_id: _Optional[str] = ..., at: _Optional[int] = ...) -> None: ...

class History(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[Participation]
    def __init__(self, entries: _Optional[_Iterable[_Union[Participation, _Mapping]]] = ...) -> None: ...

class TrusteePosting(_message.Message):
    __slots__ = ("kind", "posting")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[TrusteePosting.Kind]
        DEALING: _ClassVar[TrusteePosting.Kind]
        CHECK: _ClassVar[TrusteePosting.Kind]
        DECRYPTION: _ClassVar[TrusteePosting.Kind]
    KIND_UNSPECIFIED: TrusteePosting.Kind
    DEALING: TrusteePosting.Kind
    CHECK: TrusteePosting.Kind
    DECRYPTION: TrusteePosting.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    POSTING_FIELD_NUMBER: _ClassVar[int]
    kind: TrusteePosting.Kind
    posting: bytes
    def __init__(self, kind: _Optional[_Union[TrusteePosting.Kind, str]] = ..., posting: _Optional[bytes] = ...) -> None: ...

class PostingResponse(_message.Message):
    __slots__ = ("tx_id", "block_number", "result")
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    tx_id: str
    block_number: int
    result: bytes
    def __init__(self, tx_id: _Optional[str] = ..., block_number: _Optional[int] = ..., result: _Optional[bytes] = ...) -> None: ...

class GetCeremonyRequest(_message.Message):
    __slots__ = ("cid",)
    CID_FIELD_NUMBER: _ClassVar[int]
    cid: str
    def __init__(self, cid: _Optional[str] = ...) -> None: ...

class Ceremony(_message.Message):
    __slots__ = ("cid", "state", "record")
    CID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    cid: str
    state: str
    record: bytes
    def __init__(self, cid: _Optional[str] = ..., state: _Optional[str] = ..., record: _Optional[bytes] = ...) -> None: ...

class GetChainInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChainInfo(_message.Message):
    __slots__ = ("channel", "genesis_hash", "height")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    GENESIS_HASH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    channel: str
    genesis_hash: str
    height: int
    def __init__(self, channel: _Optional[str] = ..., genesis_hash: _Optional[str] = ..., height: _Optional[int] = ...) -> None: ...

class GetBlocksRequest(_message.Message):
    __slots__ = ("start", "stop")
    START_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    start: int
    stop: int
    def __init__(self, start: _Optional[int] = ..., stop: _Optional[int] = ...) -> None: ...

class Block(_message.Message):
    __slots__ = ("number", "block")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    number: int
    block: bytes
    def __init__(self, number: _Optional[int] = ..., block: _Optional[bytes] = ...) -> None: ...
