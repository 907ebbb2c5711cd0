"""The ``mvote.v1`` protobuf messages, generated from ``mvote/service/proto/mvote/v1/voting.proto``
by :mod:`mvote.service._proto._generate` (grpcio-tools) and committed; a test regenerates them and
compares the bytes. Do not edit ``voting_pb2.py`` or ``voting_pb2.pyi`` by hand."""
