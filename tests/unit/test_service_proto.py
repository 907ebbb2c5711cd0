"""The committed mvote.v1 message modules are what protoc generates from the shipped proto file,
byte for byte (regenerate with: .venv/bin/python -m mvote.service._proto._generate)."""

from __future__ import annotations

from mvote.service._proto import _generate
from mvote.service._proto import voting_pb2 as pb


def test_the_committed_modules_are_regenerated_identically() -> None:
    generated = _generate.generate()
    assert set(generated) == set(_generate.OUTPUTS)
    for name, data in generated.items():
        assert (_generate.HERE / name).read_bytes() == data, (
            f"{name} is stale: run .venv/bin/python -m mvote.service._proto._generate"
        )


def test_the_check_mode_sees_a_stale_module(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name in _generate.OUTPUTS:
        (tmp_path / name).write_bytes(b"# stale\n")
    monkeypatch.setattr(_generate, "HERE", tmp_path)
    assert _generate.main(["--check"]) == 1


def test_the_package_is_versioned() -> None:
    assert pb.DESCRIPTOR.package == "mvote.v1"
    assert pb.DESCRIPTOR.name == "mvote/v1/voting.proto"
    assert "Voting" in pb.DESCRIPTOR.services_by_name
