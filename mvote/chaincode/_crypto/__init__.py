"""The cryptography of secret ballots: a prime-order group, exponential ElGamal, zero-knowledge
proofs, the k-of-n key ceremony and encrypted ballots. docs/secret-ballots.md is the specification.

Modules, bottom up (each imports only those before it):

- ``group``: the prime-order subgroup of edwards25519 (points, scalars, hashing, transcripts);
- ``elgamal``: exponential ElGamal, homomorphic addition, bounded discrete logarithms;
- ``proofs``: Schnorr, Chaum-Pedersen, disjunctive 0/1 and range proofs (strong Fiat-Shamir);
- ``ceremony``: trustees' polynomials, shares, the election key, threshold decryption;
- ``ballot``: encrypted ballots for a question, their verification, cast-or-audit.

Pure and deterministic: no clock, no randomness; every nonce is an argument (the client draws it
with ``os.urandom``). Everything that arrives from outside goes through a ``from_json``/``decode``
function that checks it and names the offending field in a typed error.
"""
