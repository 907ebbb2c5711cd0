"""Write docs/openapi.json: the OpenAPI document the voting service's REST API serves.

    .venv/bin/python docs/gen_openapi.py           # rewrite docs/openapi.json
    .venv/bin/python docs/gen_openapi.py --check   # exit 1 if it is stale

The document is the one the app serves at /openapi.json: this builds the app over a real
embedded node (a network made in a temporary folder) and takes its document, in one spelling
(sorted keys, two-space indent). tests/integration/test_rest.py fails when the served document
and this file differ.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from mvote.client._gateway import Gateway
from mvote.client._identity import load_signer
from mvote.client._voting import VotingContract
from mvote.node.material import init_network
from mvote.node.runtime import Node
from mvote.node.services.server import NodeServer
from mvote.service import VotingService
from mvote.service._rest import create_app, openapi_text

DOC = Path(__file__).resolve().parent / "openapi.json"


def document() -> str:
    """The served OpenAPI document, as docs/openapi.json keeps it."""
    with tempfile.TemporaryDirectory() as tmp:
        material = init_network(Path(tmp) / "network", "cityhall")
        node = Node.open(material.directory)
        node.start()
        server = NodeServer(node, port=0, tls=False).start()
        org = material.peer_orgs[0]
        gateway = Gateway.connect(server.address, load_signer(org.client.msp_dir, org.msp_id))
        try:
            network = gateway.network(material.config.channel)
            contract = VotingContract.over(network.contract(material.config.chaincode))
            service = VotingService(contract, network, chaincode=material.config.chaincode)
            text = openapi_text(create_app(service))
            service.close()
        finally:
            gateway.close()
            server.stop(grace=1)
            node.stop()
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/openapi.json is stale")
    args = parser.parse_args(argv)
    text = document()
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    if args.check:
        if text != current:
            print(f"{DOC} is stale: run .venv/bin/python docs/gen_openapi.py", file=sys.stderr)
            return 1
        return 0
    if text != current:
        DOC.write_text(text, encoding="utf-8")
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
