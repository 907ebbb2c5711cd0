"""The embedded node: ledger, orderer, endorsers, committer, gRPC and REST services.

May import: mvote.client, mvote.verifier, mvote.chaincode, and the ``node`` extra.
"""
