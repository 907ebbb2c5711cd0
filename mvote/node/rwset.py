"""A chaincode simulation as Fabric records it: ``rwset.TxReadWriteSet`` with one ``KVRWSet``.

Reads and writes are sorted by key, as Fabric's rwset builder does, so that every endorser of the
same proposal produces byte-identical results. Range queries are recorded with their raw reads
(never the Merkle summary, which Fabric only uses above a configured size).
"""

from __future__ import annotations

from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2

from mvote.chaincode._simulation import Simulation, Version


def _version(version: Version | None) -> kv_rwset_pb2.Version | None:
    return (
        None
        if version is None
        else kv_rwset_pb2.Version(block_num=version.block, tx_num=version.tx)
    )


def _read(key: str, version: Version | None) -> kv_rwset_pb2.KVRead:
    read = kv_rwset_pb2.KVRead(key=key)
    if version is not None:
        read.version.CopyFrom(_version(version))
    return read


def kv_rwset(simulation: Simulation) -> kv_rwset_pb2.KVRWSet:
    # Reads and writes are added in place rather than built and copied in: the same bytes,
    # fewer message objects per transaction. Setting a field of ``read.version`` marks it
    # present even when both numbers are 0, as ``CopyFrom`` did (tests/unit/node/test_rwset.py).
    kv = kv_rwset_pb2.KVRWSet()
    reads = kv.reads
    for key in sorted(simulation.reads):
        version = simulation.reads[key]
        read = reads.add(key=key)
        if version is not None:
            read.version.block_num = version.block
            read.version.tx_num = version.tx
    for query in simulation.range_queries():
        info = kv.range_queries_info.add(
            start_key=query.start, end_key=query.end, itr_exhausted=query.exhausted
        )
        info.raw_reads.kv_reads.extend(_read(key, version) for key, version in query.reads)
    writes = kv.writes
    for key in sorted(simulation.writes):
        value = simulation.writes[key]
        writes.add(key=key, is_delete=value is None, value=value or b"")
    return kv


def tx_rwset_bytes(namespaces: dict[str, Simulation]) -> bytes:
    """The serialized ``TxReadWriteSet``: one ``KVRWSet`` per namespace, namespaces in order."""
    tx = rwset_pb2.TxReadWriteSet(data_model=rwset_pb2.TxReadWriteSet.KV)
    for namespace in sorted(namespaces):
        tx.ns_rwset.add(
            namespace=namespace, rwset=kv_rwset(namespaces[namespace]).SerializeToString()
        )
    return bytes(tx.SerializeToString())
