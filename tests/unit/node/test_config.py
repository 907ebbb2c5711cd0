"""mvote-node.yaml: defaults, round trip, and refusals that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mvote.node.config import (
    BatchSettings,
    Endpoint,
    NodeConfig,
    NodeLimits,
    default_node_config,
    load_node_config,
    node_config_to_dict,
    save_node_config,
)
from mvote.node.errors import ConfigInvalid
from mvote.node.material import NetworkMaterial


def test_defaults() -> None:
    config = default_node_config("cityhall,district,education")
    assert [(o.name, o.msp_id, o.domain, str(o.peer_endpoint)) for o in config.organizations] == [
        ("cityhall", "CityhallMSP", "cityhall.mvote.local", "127.0.0.1:7051"),
        ("district", "DistrictMSP", "district.mvote.local", "127.0.0.1:8051"),
        ("education", "EducationMSP", "education.mvote.local", "127.0.0.1:9051"),
    ]
    assert config.batch == BatchSettings(500, 2 * 1024 * 1024, 10 * 1024 * 1024, 250)
    assert str(config.orderer.endpoint) == "127.0.0.1:7050"
    assert config.orderer.orderer_host == "orderer.mvote.local"
    assert {e.host for e in (config.listen.grpc, config.listen.rest, config.listen.operations)} == {
        "127.0.0.1"
    }
    assert config.channel == config.chaincode == "mvote"


def test_round_trip(tmp_path: Path) -> None:
    config = default_node_config(
        ["cityhall"], channel="city.vote-1", batch=BatchSettings(timeout_ms=2000)
    )
    save_node_config(config, tmp_path / "c.yaml")
    assert load_node_config(tmp_path / "c.yaml") == config


def test_written_file_is_the_network_config(network: NetworkMaterial) -> None:
    doc = yaml.safe_load(network.config_path.read_text())
    assert doc == node_config_to_dict(network.config)
    assert doc["batch"] == {
        "max_message_count": 500,
        "preferred_max_bytes": 2097152,
        "absolute_max_bytes": 10485760,
        "timeout_ms": 250,
    }


def write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["batch"].update(timout_ms=5), "batch.timout_ms"),
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d["batch"].update(timeout_ms=True), "batch.timeout_ms"),
        (
            lambda d: d["batch"].update(preferred_max_bytes=20 * 1024 * 1024),
            "batch.preferred_max_bytes",
        ),
        (
            lambda d: d["limits"].update(max_transaction_bytes=11 * 1024 * 1024),
            "limits.max_transaction_bytes",
        ),
        (
            lambda d: d["limits"].update(max_grpc_message_bytes=1024),
            "limits.max_grpc_message_bytes",
        ),
        (lambda d: d["limits"].update(max_streams=0), "limits.max_streams"),
        (
            lambda d: d["limits"].update(max_streams=8, max_streams_per_connection=9),
            "limits.max_streams_per_connection",
        ),
        (
            lambda d: d["limits"].update(max_streams_per_identity=10**6),
            "limits.max_streams_per_identity",
        ),
        (lambda d: d["limits"].update(unary_workers="many"), "limits.unary_workers"),
        (lambda d: d["limits"].update(stream_request_seconds=0), "limits.stream_request_seconds"),
        (
            lambda d: d["limits"].update(commit_status_wait_seconds=1.5),
            "limits.commit_status_wait_seconds",
        ),
        (lambda d: d["listen"].update(rest="127.0.0.1"), "listen.rest"),
        (lambda d: d["listen"].update(rest="127.0.0.1:70000"), "listen.rest"),
        (lambda d: d["organizations"][0].update(msp_id="OrdererMSP"), "organizations.msp_id"),
        (lambda d: d["organizations"][0].pop("domain"), "organizations[0].domain"),
        (lambda d: d.update(version=2), "version"),
        (lambda d: d.update(channel="Mvote"), "channel"),
        (lambda d: d.update(genesis_block="/etc/genesis.block"), "genesis_block"),
        (lambda d: d.update(organizations=[]), "organizations"),
    ],
)
def test_refusals_name_the_key(tmp_path: Path, edit: object, field: str) -> None:
    doc = node_config_to_dict(default_node_config("cityhall,district"))
    edit(doc)  # type: ignore[operator]
    with pytest.raises(ConfigInvalid) as err:
        load_node_config(write(tmp_path, doc))
    assert err.value.field == field


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid):
        load_node_config(tmp_path / "absent.yaml")
    (tmp_path / "bad.yaml").write_text("batch: [unclosed")
    with pytest.raises(ConfigInvalid):
        load_node_config(tmp_path / "bad.yaml")


def test_value_objects_validate() -> None:
    with pytest.raises(ConfigInvalid):
        Endpoint("bad host", 1)
    with pytest.raises(ConfigInvalid):
        BatchSettings(max_message_count=0)
    with pytest.raises(ConfigInvalid):
        NodeConfig(organizations=())
    assert Endpoint.parse("peer0.cityhall.mvote.local:7051", "x").port == 7051
    assert NodeLimits().max_transaction_bytes <= BatchSettings().absolute_max_bytes


def test_default_transaction_limit_never_exceeds_a_block(tmp_path: Path) -> None:
    assert NodeLimits().max_transaction_bytes == 4 * 1024 * 1024
    small = BatchSettings(preferred_max_bytes=512 * 1024, absolute_max_bytes=1024 * 1024)
    config = default_node_config("cityhall", batch=small)
    assert config.limits.max_transaction_bytes == small.absolute_max_bytes
    doc = node_config_to_dict(config)
    del doc["limits"]["max_transaction_bytes"]
    loaded = load_node_config(write(tmp_path, doc))
    assert loaded.limits.max_transaction_bytes == small.absolute_max_bytes
