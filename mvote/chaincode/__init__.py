"""The protocol: canonical records, ballot rules, eligibility and the voting contract.

Pure and deterministic: no clock but the transaction's, no randomness, no I/O but the stub.
The same code runs in the embedded node, on real Fabric peers and in the auditor's replay.
May import: the standard library, cryptography, pynacl, rfc8785, fabric_protos. Nothing of mvote.
"""
