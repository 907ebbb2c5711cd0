"""Checks chains, blocks, signatures, endorsement policies and proofs; replays the contract.

What a voter or an auditor installs: base dependencies only.
May import: mvote.chaincode (and the base dependencies). Never mvote.client or mvote.node.
"""
