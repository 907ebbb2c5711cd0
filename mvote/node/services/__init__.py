"""gRPC services of the embedded node: Fabric's Gateway, the peer's Deliver, the orderer's
AtomicBroadcast and gRPC health checking (see docs/node.md)."""
