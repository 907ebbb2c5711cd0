"""``mvote serve``, ``mvote network profile`` and ``mvote network integrator``: the voting
service of one institution, the public connection profile, and integrator certificates."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from mvote.chaincode._errors import MvoteError
from mvote.cli._common import JsonOpt, fail
from mvote.cli._connect import connect_profile, load_material
from mvote.cli.node_cmds import _refuse
from mvote.client._identity import load_signer
from mvote.node.material import issue_integrator_certificate
from mvote.node.voting import embedded_profile
from mvote.service._grpc import IntegratorTrust, ServerTls
from mvote.service._profile import Profile
from mvote.service._serve import start_service
from mvote.verifier._chainfile import write_chain

NetworkArg = Annotated[Path, typer.Argument(help="A network folder (mvote network init).")]


def profile(
    directory: NetworkArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the profile.")] = Path(
        "profile.json"
    ),
    service: Annotated[
        str | None,
        typer.Option("--service", help="The voting service's address (host:port) to publish."),
    ] = None,
) -> None:
    """Write the public connection profile: genesis hash, channel, service and peer endpoints,
    TLS CA certificates. No private key: give it to voters, trustees and auditors."""
    material = load_material(directory)
    document = embedded_profile(material, str(material.config.listen.grpc), service)
    Profile.from_json(json.loads(document.to_bytes()))  # the file must load as it is written
    out.write_bytes(document.to_bytes())
    typer.echo(f"profile {out}: channel {document.channel}, genesis hash {document.genesis_hash}")


def integrator(
    name: Annotated[str, typer.Argument(help="The integrator's name (its certificate's CN).")],
    network: Annotated[Path, typer.Option("--network", help="The network folder.")] = Path(
        "network"
    ),
    org: Annotated[str | None, typer.Option("--org", help="The issuing institution.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the files.")] = Path("."),
) -> None:
    """Issue a TLS client certificate for an integrator of the voting service, signed by the
    institution's TLS CA (the service attributes its calls to that institution)."""
    material = load_material(network)
    chosen = material.org(org) if org else material.peer_orgs[0]
    files = issue_integrator_certificate(chosen, name, out)
    typer.echo(f"integrator {name} of {chosen.msp_id}: {files.cert}, {files.key} (CA {files.ca})")


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"{what}: cannot read {path}: {exc.strerror}")


def serve(
    profile_path: Annotated[
        Path, typer.Option("--profile", help="The network's connection profile.")
    ],
    msp_dir: Annotated[Path, typer.Option("--msp", help="The institution's client MSP folder.")],
    msp_id: Annotated[str, typer.Option("--msp-id", help="The institution's MSP id.")],
    tls_cert: Annotated[Path, typer.Option("--tls-cert", help="The service's TLS certificate.")],
    tls_key: Annotated[Path, typer.Option("--tls-key", help="The service's TLS key.")],
    integrator_ca: Annotated[
        Path, typer.Option("--integrator-ca", help="The TLS CA of the institution's integrators.")
    ],
    admin_msp: Annotated[
        Path | None,
        typer.Option("--admin-msp", help="An admin MSP folder, for trustee postings."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="The integrators' port, mutual TLS (0 picks a free one).")
    ] = 7443,
    public_port: Annotated[
        int | None,
        typer.Option(
            "--public-port",
            help="Also serve voters, trustees and auditors (no client certificate) here.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Serve the mvote.v1 voting service for one institution, in front of its peer in the
    profile (the embedded node or real Fabric), until interrupted."""
    try:
        loaded = Profile.load(profile_path)
        signer = load_signer(msp_dir, msp_id)
        admin = load_signer(admin_msp, msp_id) if admin_msp else None
        running = start_service(
            loaded,
            signer,
            tls=ServerTls(_read(tls_cert, "--tls-cert"), _read(tls_key, "--tls-key")),
            trust=IntegratorTrust({msp_id: _read(integrator_ca, "--integrator-ca")}),
            admin=admin,
            host=host,
            port=port,
            public_port=public_port,
        )
    except MvoteError as exc:
        _refuse(exc, as_json)
    public = None if running.public is None else running.public.address
    event = {"event": "listening", "service": running.server.address, "public": public}
    print(json.dumps({**event, "msp_id": msp_id}), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    running.stop()


def fetch_chain(
    out: Annotated[Path, typer.Argument(help="The chain file to write.")],
    profile_path: Annotated[
        Path, typer.Option("--profile", help="The network's public connection profile.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Fetch the whole chain through the profile's voting service (no Fabric identity) into a
    chain file for `mvote-verify audit --chain FILE --profile P`."""
    with connect_profile(profile_path) as conn:
        try:
            height = conn.client.chain_info().height
            count = write_chain(out, conn.client.blocks(0, height - 1))
        except MvoteError as exc:
            _refuse(exc, as_json)
    if as_json:
        typer.echo(json.dumps({"file": str(out), "blocks": count}))
        return
    typer.echo(
        f"fetched {count} blocks to {out}; audit it: mvote-verify audit --chain {out} --profile "
        f"{profile_path}"
    )
