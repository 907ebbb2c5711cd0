"""Identities, signing, the Fabric Gateway client, ballot preparation and receipts.

May import: mvote.verifier, mvote.chaincode. Never mvote.node.
"""
