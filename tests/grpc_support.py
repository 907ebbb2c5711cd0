"""Helpers of the gRPC integration tests: a network with a running node and its gRPC server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.signing

from mvote.chaincode import encoding
from mvote.chaincode._records import Eligibility, QuestionSpec, Schedule, SingleChoice
from mvote.client._gateway import Gateway
from mvote.client._identity import Signer, load_signer
from mvote.node.material import NetworkMaterial, init_network
from mvote.node.runtime import Node
from mvote.node.services.server import NodeServer

ORGS = "cityhall,district,education"
_REGISTRAR = nacl.signing.SigningKey.generate().verify_key.encode().hex()


@dataclass
class Served:
    material: NetworkMaterial
    node: Node
    server: NodeServer
    tls: bool

    def signer(self, org: str = "cityhall", *, admin: bool = False) -> Signer:
        material = self.material.org(org)
        who = material.admin if admin else material.client
        return load_signer(who.msp_dir, who.msp_id)

    def gateway(self, signer: Signer | None = None) -> Gateway:
        signer = signer or self.signer()
        if self.tls:
            return Gateway.connect(
                self.server.address,
                signer,
                tls_root_certificates=self.server.tls_files.ca.read_bytes(),
            )
        return Gateway.connect(self.server.address, signer)


def serve(directory: Path, *, tls: bool, **network: Any) -> Iterator[Served]:
    material = init_network(directory, ORGS, **network)
    node = Node.open(directory)
    node.start()
    server = NodeServer(node, port=0, tls=tls).start()
    try:
        yield Served(material, node, server, tls)
    finally:
        server.stop(grace=1)
        node.stop()


def question_spec(qid: str, now: float) -> bytes:
    spec = QuestionSpec(
        qid=qid,
        title=f"Question {qid}",
        description="A test question.",
        options=("yes", "no"),
        rule=SingleChoice(),
        eligibility=Eligibility.of_registrars((_REGISTRAR,)),
        schedule=Schedule(int(now) - 1, int(now) + 3600),
        shards=1,
    )
    return encoding.encode(spec.to_json())
