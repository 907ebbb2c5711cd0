"""Secret ballots through the ``mvote`` command line against one real node (TLS, 3
organisations): a 3-of-5 key ceremony (keygen, create, deal, check, completed by the last
check), a secret yes/no question, voters voting with ``mvote vote`` (one ballot spoiled with
``--audit`` first), close and aggregate, the tally refused until 3 trustees decrypt (two stay
absent), the results, and ``mvote-verify receipt`` of one secret ballot, offline and with the
chain (proofs, and the ballot inside its shard's aggregate); then a tampered proof, named."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import Cli, serve

from mvote.chaincode import _keys as keys
from mvote.chaincode._records import CastRequest
from mvote.chaincode._simulation import Version
from mvote.verifier import _cli as verify_cli
from mvote.verifier import _receipt as receipt_mod
from mvote.verifier._chainfile import read_chain
from mvote.verifier._envelope import unpack_block
from mvote.verifier._receipt import Receipt, definition_version, verify_receipt

ORGS = ("cityhall", "district", "education")


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    base = tmp_path_factory.mktemp("cli-trustee")
    for material, server in serve(base / "network"):
        yield Cli(material, server.address, base)


@pytest.fixture(scope="module")
def election(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The whole flow; the tests below look at its parts."""
    work = tmp_path_factory.mktemp("election")
    out: dict[str, Any] = {"work": work}

    # 1. Each trustee makes its keys on its own device.
    files = [work / f"trustee-{i}.json" for i in range(1, 6)]
    keygens = [
        cli.json(
            "trustee",
            "keygen",
            f,
            "--ceremony",
            "board",
            "-n",
            "5",
            "-k",
            "3",
            "--index",
            str(i),
            "--kdf",
            "min",
        )
        for i, f in enumerate(files, 1)
    ]
    out["keygens"], out["files"] = keygens, files

    # 2. The operator creates the ceremony from the registrations (in any order).
    regs = [Path(k["registration_file"]) for k in reversed(keygens)]
    out["created"] = cli.json("trustee", "ceremony", "create", "board", *regs, "--threshold", "3")

    # 3. Each trustee deals (submitted by an admin of some organisation), then checks.
    for i, f in enumerate(files):
        out.setdefault("deals", []).append(
            cli.json("trustee", "ceremony", "deal", "--trustee", f, "--org", ORGS[i % 3])
        )
    checks = [cli.json("trustee", "check", "--trustee", f) for f in files]
    out["checks"] = checks

    # 4. Voters on a sealed roster; a secret yes/no question.
    wallets = [work / "wallets" / f"v{i}.json" for i in range(4)]
    for w in wallets:
        cli.json("wallet", "create", w, "--kdf", "min")
    cli("roster", "create", "members", "--title", "Members")
    cli("roster", "add", "members", "--wallets", work / "wallets")
    cli("roster", "seal", "members")
    out["question"] = cli.json(
        "question",
        "create",
        "--qid",
        "budget",
        "--title",
        "Adopt the 2027 budget?",
        "-o",
        "Yes",
        "-o",
        "No",
        "--rule",
        "yesno",
        "--roster",
        "members",
        "--mode",
        "secret",
        "--election",
        "board",
        "--shards",
        "2",
        "--open",
    )

    # 5. Votes; voter 3 audits (spoils) one prepared ballot first, then votes.
    out["receipt"] = work / "receipt-v0.json"
    out["cast"] = cli.json(
        "vote", "budget", "--wallet", wallets[0], "-c", "Yes", "--receipt", out["receipt"], "--yes"
    )
    out["spoiled_file"] = work / "spoiled-1.json"
    out["spoiled"] = cli.json(
        "vote", "budget", "--wallet", wallets[3], "-c", "No", "--audit",
        "--spoiled", out["spoiled_file"],
    )  # fmt: skip
    # Interactively: the tracker shown first, then the voter answers "audit".
    out["spoiled_human"] = cli(
        "vote", "budget", "--wallet", wallets[3], "-c", "2", "--spoiled", work / "spoiled-2.json",
        input="audit\n",
    )  # fmt: skip
    for i, (w, pick) in enumerate(((wallets[1], "yes"), (wallets[2], "No"), (wallets[3], "1"))):
        cli("vote", "budget", "--wallet", w, "-c", pick, "--receipt", work / f"r{i}.json", "--yes")
    out["again"] = cli.json(
        "vote", "budget", "--wallet", wallets[1], "-c", "1", "--yes", "--receipt", work / "r9.json",
        code=1,
    )  # fmt: skip
    out["live"] = cli.json("results", "budget")

    # 6. Close and aggregate: the tally waits for k trustees.
    out["no_quorum"] = cli.json("tally", "budget", "--close", code=1)
    for i in (1, 3, 5):  # trustees 2 and 4 are absent
        out.setdefault("decryptions", []).append(
            cli.json("trustee", "decrypt", "budget", "--trustee", files[i - 1])
        )
    out["tally"] = cli.json("tally", "budget")
    out["results"] = cli("results", "budget").stdout
    out["chain"] = work / "chain.bin"
    cli("export", out["chain"])
    return out


def test_ceremony_through_the_cli(cli: Cli, election: dict[str, Any]) -> None:
    files = election["files"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    document = json.loads(files[0].read_text())
    # Public header in clear, secrets sealed (no secret scalar in clear).
    assert document["ceremony"] == "board" and document["index"] == 1
    assert "key_secret" not in files[0].read_text()
    assert document["registration"] == election["keygens"][0]["registration"]
    created = election["created"]["ceremony"]
    assert (created["state"], created["n"], created["k"]) == ("DEALING", 5, 3)
    assert [d["dealing"]["trustee"] for d in election["deals"]] == [1, 2, 3, 4, 5]
    checks = election["checks"]
    assert all(c["complaints"] == [] for c in checks)
    assert [c["ceremony"] is None for c in checks] == [True] * 4 + [False]
    assert checks[-1]["ceremony"]["state"] == "COMPLETE"
    shown = cli("trustee", "ceremony", "show", "board").stdout
    assert "3 of 5 trustees, COMPLETE" in shown and "election key" in shown

    # A second dealing is refused; a wrong passphrase opens nothing.
    again = cli.json("trustee", "ceremony", "deal", "--trustee", files[0], code=1)
    assert again["error"]["code"] == "INVALID_TRANSITION"
    wrong = cli.json("trustee", "check", "--trustee", files[0], code=2, MVOTE_PASSPHRASE="no")
    assert wrong["error"]["code"] == "WRONG_PASSPHRASE"
    exists = cli.json(
        "trustee",
        "keygen",
        files[0],
        "--ceremony",
        "board",
        "-n",
        "5",
        "-k",
        "3",
        "--index",
        "1",
        code=2,
    )
    assert "never overwritten" in exists["error"]["message"]
    bad = cli.json(
        "trustee",
        "keygen",
        files[0].with_name("bad.json"),
        "--ceremony",
        "board",
        "-n",
        "2",
        "-k",
        "3",
        "--index",
        "1",
        code=2,
    )
    assert bad["ok"] is False
    no_election = cli.json(
        "question",
        "create",
        "--qid",
        "nokey",
        "--title",
        "t",
        "-o",
        "a",
        "-o",
        "b",
        "--rule",
        "single",
        "--roster",
        "members",
        "--mode",
        "secret",
        code=2,
    )
    assert "--election" in no_election["error"]["message"]


def test_secret_question_votes_audit_and_tally(cli: Cli, election: dict[str, Any]) -> None:
    question = election["question"]["question"]
    assert (question["mode"], question["election"], question["state"]) == (
        "secret",
        "board",
        "OPEN",
    )
    assert "encrypted under ceremony board" in cli("question", "show", "budget").stdout
    assert election["cast"]["mode"] == "secret" and election["cast"]["choices"] == [0]

    spoiled = election["spoiled"]
    assert (spoiled["audited"], spoiled["cast"], spoiled["matches"]) == (True, False, True)
    assert spoiled["choices"] == [1] and len(spoiled["nonce_key"]) == 64
    assert spoiled["labels"] == ["No"]
    human = election["spoiled_human"]
    assert "tracker" in human.stderr and "cast this ballot, or audit it" in human.stderr
    assert "NOT cast" in human.stdout
    assert "opened, it encrypts: 2. No" in human.stdout
    # The second device: from the genesis hash alone, the labels the opening shows.
    anchor = spoiled["genesis_hash"]
    path = str(election["spoiled_file"])
    assert verify_cli.main(["spoiled", path, "--genesis-hash", anchor]) == 0
    assert election["again"]["error"]["code"] == "ALREADY_VOTED"
    live = election["live"]
    assert (live["ballots"], live["counts"], live["final"]) == (4, None, False)

    no_quorum = election["no_quorum"]
    assert no_quorum["error"]["code"] == "NO_QUORUM"
    assert "mvote trustee decrypt" in no_quorum["error"]["hint"]
    assert [d["decryption"]["trustee"] for d in election["decryptions"]] == [1, 3, 5]

    t = election["tally"]["tally"]
    assert (t["ballots"], t["counts"]) == (4, [3, 1])
    assert t["outcome"]["passed"] is True
    assert t["decryption"]["trustees"] == [1, 3, 5]
    assert (
        "final tally" in election["results"]
        and "decrypted by trustees 1, 3, 5" in (election["results"])
    )
    # A trustee cannot decrypt a tallied question again.
    twice = cli.json("trustee", "decrypt", "budget", "--trustee", election["files"][0], code=1)
    assert twice["error"]["code"] == "INVALID_TRANSITION"
    # A late trustee (2 was absent) is told the tally is done, not sent to tally again.
    late = cli.json("trustee", "decrypt", "budget", "--trustee", election["files"][1], code=1)
    hint = late["error"]["hint"]
    assert late["error"]["code"] == "INVALID_TRANSITION"
    assert "budget is TALLIED: no decryption is needed" in hint
    assert "`mvote results budget`" in hint and "--close" not in hint


def _anchor(election: dict[str, Any]) -> bytes:
    """The genesis hash `mvote vote` printed (from the network's material, not the receipt)."""
    return bytes.fromhex(election["cast"]["genesis_hash"])


def test_secret_receipt_verified_offline_and_with_the_chain(election: dict[str, Any]) -> None:
    receipt = str(election["receipt"])
    chain = str(election["chain"])
    anchor = _anchor(election)
    assert verify_cli.main(["receipt", receipt, "--genesis-hash", anchor.hex()]) == 0
    report = verify_receipt(Receipt.from_bytes(Path(receipt).read_bytes()), anchor=anchor)
    checks = {c.name: c for c in report.checks}
    assert checks["ballot_proofs"].ok and checks["question_record"].ok
    assert checks["ceremony_record"].ok and checks["question_binding"].ok
    # What the ballot recorded, for the voter: the tracker and its proofs, no choice.
    recorded = report.recorded
    assert recorded is not None
    assert (recorded.mode, recorded.choices, recorded.spoiled) == ("secret", None, False)
    assert recorded.tracker == Receipt.from_bytes(Path(receipt).read_bytes()).tracker
    assert recorded.proofs is not None and recorded.proofs.ok
    assert any("proofs hold" in line for line in recorded.lines())

    with_chain = verify_receipt(
        Receipt.from_bytes(Path(receipt).read_bytes()), read_chain(Path(chain)), anchor=anchor
    )
    assert with_chain.verified, [c for c in with_chain.checks if not c.ok]
    names = {c.name for c in with_chain.checks}
    assert {"ballot_proofs", "in_aggregate", "counted"} <= names
    assert with_chain.aggregated is True and with_chain.tallied is True
    assert (
        verify_cli.main(["receipt", receipt, "--chain", chain, "--genesis-hash", anchor.hex()]) == 0
    )


def test_secret_receipt_without_context_blocks_needs_the_chain(election: dict[str, Any]) -> None:
    full = Receipt.from_bytes(Path(election["receipt"]).read_bytes())
    raw_tx = unpack_block(full.proof[full.block]).data[full.tx_index]
    version = definition_version(raw_tx, full.chaincode)
    assert version is not None
    keep = {0, version[0], full.block}
    stripped = Receipt(
        full.channel,
        full.genesis_hash,
        full.chaincode,
        full.qid,
        full.tracker,
        full.tx_id,
        full.block,
        full.tx_index,
        {n: raw for n, raw in full.proof.items() if n in keep},
    )
    offline = verify_receipt(stripped, anchor=_anchor(election))
    failed = [c for c in offline.checks if not c.ok]
    assert [c.name for c in failed] == ["ballot_proofs"]
    assert "--chain" in failed[0].message
    chained = verify_receipt(stripped, read_chain(election["chain"]), anchor=_anchor(election))
    assert chained.verified, [c for c in chained.checks if not c.ok]


def test_tampered_proof_is_named(election: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    receipt = Receipt.from_bytes(Path(election["receipt"]).read_bytes())
    original = receipt_mod._cast_request

    def tampered(
        raw_tx: bytes, ballot_index: int | None, *functions: Any
    ) -> tuple[str, CastRequest]:
        channel, request = original(raw_tx, ballot_index, *functions)
        value = request.to_json()
        proof = value["ballot"]["encrypted"]["selections"][1]["proof"]
        proof["v0"] = ("0" if proof["v0"][0] != "0" else "1") + proof["v0"][1:]
        return channel, CastRequest.from_json(value)

    monkeypatch.setattr(receipt_mod, "_cast_request", tampered)
    report = verify_receipt(receipt, anchor=_anchor(election))
    assert not report.verified
    proofs = next(c for c in report.checks if c.name == "ballot_proofs")
    assert not proofs.ok
    assert "BAD_PROOF" in proofs.message
    assert "ballot.encrypted.selections[1].proof" in proofs.message


def test_ballot_outside_its_aggregate_is_named(
    election: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replayed state whose shard aggregate is not the sum of the shard's ballots (here: the
    aggregate of the other shard) fails ``in_aggregate``, naming the shard."""
    receipt = Receipt.from_bytes(Path(election["receipt"]).read_bytes())
    real = receipt_mod.audit_chain

    def swapped(*args: Any, **kwargs: Any) -> Any:
        audit = real(*args, **kwargs)
        state = audit.replay.state
        first, second = (state.get(keys.aggregate_key("budget", s)) for s in (0, 1))
        assert first is not None and second is not None
        state.apply(
            {
                keys.aggregate_key("budget", 0): second[0],
                keys.aggregate_key("budget", 1): first[0],
            },
            Version(1 << 20, 0),
        )
        return audit

    monkeypatch.setattr(receipt_mod, "audit_chain", swapped)
    report = verify_receipt(receipt, read_chain(election["chain"]), anchor=_anchor(election))
    assert not report.verified
    check = next(c for c in report.checks if c.name == "in_aggregate")
    assert not check.ok and "of 'budget'" in check.message and "differs" in check.message


def test_a_stalled_ceremony_is_cancelled_and_restarted(cli: Cli, tmp_path: Path) -> None:
    """Trustee 2 never deals: the operator cancels the ceremony and creates it again from the
    same registrations; this time both deal and check, and it completes."""
    files = [tmp_path / f"stall-{i}.json" for i in (1, 2)]
    regs = [
        Path(
            cli.json("trustee", "keygen", f, "--ceremony", "stall", "-n", "2", "-k", "2",
                     "--index", str(i), "--kdf", "min")["registration_file"]
        )
        for i, f in enumerate(files, 1)
    ]  # fmt: skip
    cli.json("trustee", "ceremony", "create", "stall", *regs, "--threshold", "2")
    cli.json("trustee", "ceremony", "deal", "--trustee", files[0])
    no_reason = cli.json("trustee", "ceremony", "cancel", "stall", "--reason", "", code=1)
    assert (no_reason["error"]["code"], no_reason["error"]["field"]) == ("INVALID_FIELD", "reason")
    not_owner = cli.json("trustee", "ceremony", "cancel", "stall", "--reason", "stalled",
                         "--org", "district", code=1)  # fmt: skip
    assert not_owner["error"]["code"] == "UNAUTHORISED"
    done = cli.json("trustee", "ceremony", "cancel", "stall", "--reason", "trustee 2 never dealt")
    assert (done["ceremony"]["state"], done["ceremony"]["dealt"]) == ("CANCELLED", [1])
    human = cli("trustee", "ceremony", "cancel", "stall", "--reason", "again", code=1)
    assert "NOT_FOUND" in human.output
    # Restarted under the same id: every trustee deals and checks; it completes.
    cli.json("trustee", "ceremony", "create", "stall", *regs, "--threshold", "2")
    for f in files:
        cli.json("trustee", "ceremony", "deal", "--trustee", f)
    for f in files:
        cli.json("trustee", "check", "--trustee", f)
    shown = cli.json("trustee", "ceremony", "show", "stall")
    assert "COMPLETE" in json.dumps(shown)
    # The auditor replays the cancel (its deletes) and the restart: the chain audits clean.
    chain = tmp_path / "chain.bin"
    cli("export", chain)
    anchor = cli.material.genesis_hash.hex()
    assert verify_cli.main(["audit", "--chain", str(chain), "--genesis-hash", anchor]) == 0


def test_a_spoiled_ballot_file_is_never_overwritten(cli: Cli, election: dict[str, Any]) -> None:
    """An existing spoiled-ballot file stops an audit before anything is sent (exit 2)."""
    existing = election["spoiled_file"]
    before = existing.read_bytes()
    refused = cli.json("vote", "budget", "--wallet", election["work"] / "wallets" / "v2.json", "-c", "No",
                       "--audit", "--spoiled", existing, code=2)  # fmt: skip
    assert refused["error"]["code"] == "FILE_EXISTS"
    assert existing.read_bytes() == before
