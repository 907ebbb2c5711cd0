"""mvote: a permissioned-blockchain voting node.

The parts, from leaf to root (nothing imports upward; tests/unit/test_layering.py enforces it):
``mvote.chaincode`` <- ``mvote.verifier`` <- ``mvote.client`` <- ``mvote.node``.
``mvote.cli`` is the operator's command line and may import every part.
"""

__version__ = "0.1.0"
