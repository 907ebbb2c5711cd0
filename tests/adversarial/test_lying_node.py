"""Issue 12's attacks by a lying node, driven through the ``mvote`` commands a voter and a
trustee run, against a real gRPC server (:mod:`lying_node`) in front of a real embedded node.

The module's fixture runs a voter's and a trustee's whole flow through the lying node while it
tells the truth (a 2-of-3 ceremony dealt, checked and completed, secret and open questions,
votes, decryptions, a tally). Each test then makes it lie, runs a command, and checks that the
command refused before anything secret left the device, with a message naming the check: the
lying node records every ``Endorse`` it receives, and none carries a partial decryption, a
complaint or a ballot. Where a lie only touches the node's query answers (the blocks stay
honest), the command acts on the verified chain instead and the contract accepts what it sent.

Then the checks of the verified reads that a lying node cannot reach (a majority of endorsing
organisations would have to lie) run on a verified state altered in memory.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lying_node import Insider, Lies, LyingNode, forge_json, insider_rewrite_writes, rewrite_writes
from scenario.cli_support import PASSPHRASE, Cli, serve

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._crypto import group
from mvote.chaincode._crypto.elgamal import ZERO
from mvote.chaincode._errors import AggregationIncomplete, CeremonyNotComplete, NotFound
from mvote.chaincode._records import CastRequest
from mvote.chaincode._stub import partial_key_range
from mvote.cli._connect import connect as connect_cli
from mvote.client import _trustee as tr
from mvote.client import recipes
from mvote.client._errors import NotVerified
from mvote.client._verified import ChainReads, TrustAnchor, VerifiedChain
from mvote.client._voting import VotingContract
from mvote.client._wallet import Wallet
from mvote.node.material import NetworkMaterial
from mvote.verifier._deliver import connect, fetch_blocks
from mvote.verifier._envelope import unpack_block
from mvote.verifier._identity import load_signer

REFUSED = 1
#: The contract functions whose arguments carry what a lie would extract: a ballot (under the
#: key it was encrypted with), a complaint value, partial decryptions.
SECRETS = {"Cast", "PostCheck", "PostDecryption"}


@dataclasses.dataclass
class World:
    cli: Cli
    liar: LyingNode
    material: NetworkMaterial
    node_address: str
    work: Path
    out: dict[str, Any]

    def blocks(self, start: int = 0, stop: int | None = None, *, via: str = "") -> list[bytes]:
        """The chain straight from the node (honest), or ``via`` another address."""
        org = self.material.peer_orgs[0]
        signer = load_signer(org.client.msp_dir, org.client.msp_id)
        channel = connect(
            via or self.node_address, tls_root_certificates=org.node.tls_ca_path.read_bytes()
        )
        try:
            return fetch_blocks(channel, signer, self.material.config.channel, start, stop)
        finally:
            channel.close()

    def anchor(self) -> TrustAnchor:
        return TrustAnchor(self.material.genesis_hash, self.material.config.chaincode)

    def verified(self) -> VerifiedChain:
        return VerifiedChain.of(self.blocks(), self.anchor())

    def sent_secrets(self) -> set[str]:
        """Which secret-carrying functions the lying node was asked to endorse."""
        return SECRETS & set(self.liar.endorsed())

    def refused(self, *args: str | Path) -> dict[str, Any]:
        """Run a command that must be refused; its JSON error."""
        result = self.cli(*args, "--json", code=REFUSED)
        error: dict[str, Any] = json.loads(result.stdout)["error"]
        return error


def _trustees(cli: Cli, work: Path, cid: str, n: int, k: int) -> list[Path]:
    files = [work / f"{cid}-{i}.json" for i in range(1, n + 1)]
    regs = []
    for i, f in enumerate(files, 1):
        made = cli.json(
            "trustee", "keygen", f, "--ceremony", cid, "-n", str(n), "-k", str(k),
            "--index", str(i), "--kdf", "min",
        )  # fmt: skip
        regs.append(made["registration_file"])
    cli.json("trustee", "ceremony", "create", cid, *regs, "--threshold", str(k))
    for f in files:
        cli.json("trustee", "ceremony", "deal", "--trustee", f)
    return files


def _secret_question(cli: Cli, qid: str) -> None:
    cli.json(
        "question", "create", "--qid", qid, "--title", f"Adopt {qid}?", "-o", "Yes", "-o", "No",
        "--rule", "yesno", "--roster", "members", "--mode", "secret", "--election", "board",
        "--shards", "2", "--open",
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("lying")
    for material, server in serve(base / "network"):
        liar = LyingNode(material, server.address)
        try:
            cli = Cli(material, liar.address, base)
            yield World(cli, liar, material, server.address, base, _honest_flow(cli, base))
        finally:
            liar.stop()


def _honest_flow(cli: Cli, work: Path) -> dict[str, Any]:
    """A trustee's and a voter's whole flow, through the lying node while it tells the truth."""
    out: dict[str, Any] = {}
    board = _trustees(cli, work, "board", 3, 2)
    out["checks"] = [cli.json("trustee", "check", "--trustee", f) for f in board]
    out["board"], out["pending"] = board, _trustees(cli, work, "pending", 3, 2)
    out["show"] = cli.json("trustee", "ceremony", "show", "board")
    out["show_pending"] = cli("trustee", "ceremony", "show", "pending").stdout
    wallets = [work / "wallets" / f"v{i}.json" for i in range(3)]
    for w in wallets:
        cli.json("wallet", "create", w, "--kdf", "min")
    out["wallets"] = wallets
    cli("roster", "create", "members", "--title", "Members")
    cli("roster", "add", "members", "--wallets", work / "wallets")
    cli("roster", "seal", "members")
    for qid in ("budget", "levy", "poll"):
        _secret_question(cli, qid)
    cli.json(
        "question", "create", "--qid", "trip", "--title", "Where to?", "-o", "Gyeongju",
        "-o", "Jeju", "-o", "Sokcho", "--rule", "single", "--roster", "members", "--open",
    )  # fmt: skip
    votes = [("budget", 0, "Yes"), ("budget", 1, "Yes"), ("budget", 2, "No")]
    votes += [("levy", 0, "Yes"), ("levy", 1, "No")]
    for qid, voter, pick in votes:
        receipt = work / f"receipt-{qid}-{voter}.json"
        cli.json("vote", qid, "--wallet", wallets[voter], "-c", pick, "--receipt", receipt, "--yes")
    cli.json("tally", "levy", "--close", code=REFUSED)  # closed, aggregated; no quorum yet
    cli.json("tally", "budget", "--close", code=REFUSED)
    out["decryptions"] = [
        cli.json("trustee", "decrypt", "budget", "--trustee", board[i]) for i in (0, 2)
    ]
    out["tally"] = cli.json("tally", "budget")
    out["results"] = cli.json("results", "budget")
    return out


@pytest.fixture
def world_liar(world: World) -> Iterator[World]:
    """The world, its node telling the truth again after the test."""
    yield world
    world.liar.lie(Lies())


# --- the honest flow ----------------------------------------------------------------------------


def test_a_trustees_and_a_voters_whole_flow_work_through_an_honest_node(world: World) -> None:
    out = world.out
    assert all(c["complaints"] == [] for c in out["checks"])
    assert out["checks"][-1]["ceremony"]["state"] == "COMPLETE"
    assert [d["decryption"]["trustee"] for d in out["decryptions"]] == [1, 3]
    assert out["tally"]["tally"]["counts"] == [2, 1]
    assert out["results"]["final"] and out["results"]["tally"]["counts"] == [2, 1]
    assert (out["show"]["dealt"], out["show"]["checked"]) == ([1, 2, 3], [1, 2, 3])
    assert out["show"]["state"] == "COMPLETE" and out["show"]["verified_height"] > 1
    assert "dealt:   1, 2, 3" in out["show_pending"]
    assert "checked: none; waiting for 1, 2, 3" in out["show_pending"]


# --- 1. the decryption oracle ------------------------------------------------------------------


def _one_ballot(world: World, qid: str, shard: int) -> Callable[[dict[str, Any]], None]:
    """A forgery of an aggregate of ``qid``: one ballot's ciphertexts in shard ``shard``, an
    empty sum elsewhere (what the node would have the trustees decrypt)."""
    state = world.verified().state
    ballot = next(
        encoding.decode(raw, max_size=1 << 24)
        for key, raw, _ in state.range(*partial_key_range(keys.BALLOT, [qid]))
    )
    ciphertexts = [s["ciphertext"] for s in ballot["ballot"]["encrypted"]["selections"]]

    def change(aggregate: dict[str, Any]) -> None:
        one = aggregate["shard"] == shard
        aggregate["sums"] = ciphertexts if one else [ZERO.to_json()] * len(ciphertexts)
        aggregate["ballots"] = 1 if one else 0

    return change


def test_a_forged_aggregate_of_one_ballot_is_never_decrypted(world_liar: World) -> None:
    world = world_liar
    change = _one_ballot(world, "levy", 0)

    def answers(function: str, args: list[str], value: Any) -> Any:
        if function == "GetAggregate":
            change(value)
        return value

    def blocks(chain: list[bytes]) -> list[bytes]:
        for shard in range(2):
            chain = rewrite_writes(chain, keys.aggregate_key("levy", shard), forge_json(change))
        return chain

    world.liar.lie(Lies(answers=answers, blocks=blocks))
    error = world.refused("trustee", "decrypt", "levy", "--trustee", world.out["board"][0])
    assert error["code"] == "NOT_VERIFIED" and error["field"] == "orderer_signature"
    assert "orderer_signature" in error["message"]
    assert world.sent_secrets() == set()  # no partial decryption left the device


def test_an_institution_running_the_orderer_cannot_forge_an_aggregate(world_liar: World) -> None:
    """The lying node holds one organisation's peer and admin keys and the orderer's: it
    re-endorses the forged aggregate transactions with its own peer, re-signs them as the admin
    who submitted them, and re-chains and re-signs every block from there. The one check it
    cannot pass is the endorsement policy (a majority of the three organisations)."""
    world = world_liar
    change = _one_ballot(world, "levy", 0)
    insider = Insider.of(world.material)

    def blocks(chain: list[bytes]) -> list[bytes]:
        for shard in range(2):
            key = keys.aggregate_key("levy", shard)
            chain = insider_rewrite_writes(chain, key, forge_json(change), insider)
        return chain

    world.liar.lie(Lies(blocks=blocks))
    error = world.refused("trustee", "decrypt", "levy", "--trustee", world.out["board"][0])
    assert error["code"] == "NOT_VERIFIED" and error["field"] == "validation_code"
    assert "endorsement_policy" in error["message"] and "CityhallMSP" in error["message"]
    assert world.sent_secrets() == set()


def test_a_lie_in_the_answers_alone_decrypts_only_the_true_totals(world_liar: World) -> None:
    world = world_liar
    change = _one_ballot(world, "levy", 1)

    def answers(function: str, args: list[str], value: Any) -> Any:
        if function == "GetAggregate":
            change(value)
        return value

    world.liar.lie(Lies(answers=answers))
    done = world.cli.json("trustee", "decrypt", "levy", "--trustee", world.out["board"][1])
    assert done["decryption"]["trustee"] == 2  # the contract checked it against its totals
    [(posting,)] = world.liar.endorsed_args("PostDecryption")
    body = encoding.decode(posting, max_size=1 << 24)["body"]
    assert body["qid"] == "levy" and len(body["partials"]) == 2


# --- 2. the ceremony check that leaks -----------------------------------------------------------


def _forged_share(dealing: dict[str, Any]) -> None:
    """Trustee 2's share to trustee 1 replaced by its share to trustee 3 (a box trustee 1
    cannot open: the complaint would reveal what opens a real share)."""
    shares = dealing["body"]["shares"]
    shares[0] = dict(shares[1], recipient=1)


def test_a_forged_dealing_gets_no_complaint(world_liar: World) -> None:
    world = world_liar
    key = keys.dealing_key("pending", 2)
    world.liar.lie(Lies(blocks=lambda chain: rewrite_writes(chain, key, forge_json(_forged_share))))
    error = world.refused("trustee", "check", "--trustee", world.out["pending"][0])
    assert error["code"] == "NOT_VERIFIED" and error["field"] == "orderer_signature"
    assert world.sent_secrets() == set()  # no complaint value left the device


def _block_writing(world: World, key: str) -> int:
    """The number of the block whose transaction wrote ``key``."""
    found = world.verified().state.get(key)
    assert found is not None
    return found[1].block


def test_a_withheld_block_is_refused(world_liar: World) -> None:
    world = world_liar
    dealt = _block_writing(world, keys.dealing_key("pending", 2))
    world.liar.lie(Lies(blocks=lambda chain: chain[:dealt] + chain[dealt + 1 :]))
    error = world.refused("trustee", "check", "--trustee", world.out["pending"][0])
    assert error["code"] == "NOT_VERIFIED"
    assert error["field"] in ("previous_hash", "block_number")
    assert world.sent_secrets() == set()


def test_a_withheld_tail_shows_a_dealer_missing_and_sends_nothing(world_liar: World) -> None:
    world = world_liar
    dealt = _block_writing(world, keys.dealing_key("pending", 3))
    world.liar.lie(Lies(blocks=lambda chain: chain[:dealt]))
    error = world.refused("trustee", "check", "--trustee", world.out["pending"][0])
    assert error["code"] == "INVALID_TRANSITION" and "trustee(s) 3" in error["message"]
    assert world.sent_secrets() == set()
    shown = world.cli.json("trustee", "ceremony", "show", "pending")
    assert shown["dealt"] == [1, 2] and shown["verified_height"] == dealt


def test_reordered_blocks_are_refused(world_liar: World) -> None:
    world = world_liar
    dealt = _block_writing(world, keys.dealing_key("pending", 2))

    def swap(chain: list[bytes]) -> list[bytes]:
        chain = list(chain)
        chain[dealt - 1], chain[dealt] = chain[dealt], chain[dealt - 1]
        return chain

    world.liar.lie(Lies(blocks=swap))
    error = world.refused("trustee", "check", "--trustee", world.out["pending"][0])
    assert error["code"] == "NOT_VERIFIED" and error["field"] == "block_number"
    assert world.sent_secrets() == set()


# --- 3. the fake election key -------------------------------------------------------------------

FAKE_KEY = group.base_mul(12345).hex()


def _fake_key(record: dict[str, Any]) -> None:
    if record.get("election_key"):
        record["election_key"] = FAKE_KEY


def _lie_fake_key(function: str, args: list[str], value: Any) -> Any:
    if function == "GetCeremony":
        _fake_key(value)
    return value


def test_a_fake_election_key_gets_no_ballot(world_liar: World) -> None:
    """The node answers the fake key to the query and inside the endorsed read: the
    endorsers' signatures do not cover it."""
    world = world_liar
    world.liar.lie(Lies(answers=_lie_fake_key, endorsed=_lie_fake_key))
    error = world.refused("vote", "poll", "--wallet", world.out["wallets"][2], "-c", "Yes")
    assert error["code"] == "NOT_VERIFIED" and error["field"] == "endorsement_signature"
    assert "GetCeremony" in error["message"]
    assert world.sent_secrets() == set()  # no ciphertext under the fake key left the device


def test_an_institution_cannot_endorse_a_fake_key_alone(world_liar: World) -> None:
    """The insider re-endorses the forged answer with its own peer: the endorsement is valid,
    the policy (a majority) is not met."""
    world = world_liar
    insider = Insider.of(world.material)
    world.liar.lie(Lies(answers=_lie_fake_key, endorsed=_lie_fake_key, insider=insider))
    error = world.refused("vote", "poll", "--wallet", world.out["wallets"][2], "-c", "Yes")
    assert error["code"] == "NOT_VERIFIED" and error["field"] == "endorsement_policy"
    assert "CityhallMSP" in error["message"]
    assert world.sent_secrets() == set()


def test_a_forged_chain_prefix_gets_no_ballot(world_liar: World) -> None:
    """Endorsed reads are checked against the chain's verified prefix: withholding the block
    that defines the chaincode (its endorsement policy) is refused, and so is a prefix that
    does not chain."""
    world = world_liar
    world.liar.lie(Lies(blocks=lambda chain: chain[:1] + chain[2:]))
    error = world.refused("vote", "poll", "--wallet", world.out["wallets"][2], "-c", "Yes")
    assert error["code"] == "NOT_VERIFIED" and error["field"] == "defining_block"
    world.liar.lie(Lies(blocks=lambda chain: chain[1::-1] + chain[2:]))
    error = world.refused("vote", "poll", "--wallet", world.out["wallets"][2], "-c", "Yes")
    assert error["code"] == "NOT_VERIFIED" and error["field"] == "block_number"
    assert world.sent_secrets() == set()


def test_a_fake_key_in_the_answers_alone_is_not_used(world_liar: World) -> None:
    world = world_liar
    world.liar.lie(Lies(answers=_lie_fake_key))
    receipt = world.work / "receipt-poll-1.json"
    done = world.cli.json(
        "vote",
        "poll",
        "--wallet",
        world.out["wallets"][1],
        "-c",
        "No",
        "--receipt",
        receipt,
        "--yes",
    )
    assert done["qid"] == "poll"  # the contract verified the proofs under the real key
    [(request,)] = world.liar.endorsed_args("Cast")
    selections = encoding.decode(request, max_size=1 << 24)["ballot"]["encrypted"]
    assert FAKE_KEY not in json.dumps(selections)


# --- 4. swapped option labels -------------------------------------------------------------------


def _swap_labels(record: dict[str, Any]) -> None:
    options = record["spec"]["options"] if "spec" in record else record["options"]
    options[0], options[1] = options[1], options[0]


def _lie_swapped(function: str, args: list[str], value: Any) -> Any:
    if function == "GetQuestion" and args[0] == "trip":
        _swap_labels(value)
    return value


def test_swapped_labels_get_no_ballot(world_liar: World) -> None:
    world = world_liar
    world.liar.lie(Lies(answers=_lie_swapped))
    error = world.refused("vote", "trip", "--wallet", world.out["wallets"][0], "-c", "Gyeongju")
    assert error["code"] == "NOT_VERIFIED" and error["field"] == "question_record"
    assert "options" in error["message"]
    assert world.sent_secrets() == set()


def test_swapped_labels_in_the_endorsed_read_too_get_no_ballot(world_liar: World) -> None:
    world = world_liar
    world.liar.lie(Lies(answers=_lie_swapped, endorsed=_lie_swapped))
    error = world.refused("vote", "trip", "--wallet", world.out["wallets"][0], "-c", "Gyeongju")
    assert error["code"] == "NOT_VERIFIED" and error["field"] == "endorsement_signature"
    assert world.sent_secrets() == set()


def _lie_counts(function: str, args: list[str], value: Any) -> Any:
    if function == "GetResults":
        value["tally"]["counts"].reverse()
    return value


def test_forged_results_are_never_shown(world_liar: World) -> None:
    world = world_liar
    world.liar.lie(Lies(answers=_lie_counts))
    shown = world.cli.json("results", "budget")
    assert shown["tally"]["counts"] == [2, 1]  # the endorsed answer, not the plain one
    world.liar.lie(Lies(answers=_lie_counts, endorsed=_lie_counts))
    error = world.refused("results", "budget")
    assert error["code"] == "NOT_VERIFIED" and error["field"] == "endorsement_signature"
    assert "GetResults" in error["message"]


def test_without_a_gateway_a_voter_reads_the_verified_chain(world_liar: World) -> None:
    """Reads with no way to send proposals (a voter behind a service that relays blocks only)
    fall back to the verified chain: the same records, the same refusals, the contract's own
    query functions answering on the verified state."""
    world = world_liar
    with connect_cli(
        world.material.directory, world.liar.address, None, None, default_role="client"
    ) as conn:
        reads = ChainReads(lambda a, b: world.blocks(a, b, via=world.liar.address), world.anchor())
        contract = VotingContract(conn.channel.acting_as(conn.creator), reads=reads)
        records = contract.records()
        assert isinstance(records, VerifiedChain)
        trip = records.question("trip").spec
        voter = Wallet.load(world.out["wallets"][0]).unlock(PASSPHRASE)
        assert isinstance(recipes.prepare_vote(contract, voter, trip, [0]), CastRequest)
        assert records.results("budget").to_json() == world.out["results"]
        with pytest.raises(NotFound):
            records.answer("GetQuestion", "no-such-question")
        key = keys.question_key("trip")
        world.liar.lie(Lies(blocks=lambda c: rewrite_writes(c, key, forge_json(_swap_labels))))
        with pytest.raises(NotVerified) as info:
            recipes.prepare_vote(contract, voter, trip, [0])
        assert info.value.field == "orderer_signature"
    assert world.sent_secrets() == set()


def test_a_chain_from_another_genesis_is_refused(world_liar: World) -> None:
    world = world_liar
    forged = world.verified()  # any chain: the anchor below is not its genesis hash
    other = TrustAnchor(bytes(32), world.material.config.chaincode)
    with pytest.raises(NotVerified) as info:
        VerifiedChain.of(world.blocks(), other)
    assert info.value.field == "genesis_hash" and forged.height > 1
    with pytest.raises(NotVerified) as empty:
        VerifiedChain.of([], other)
    assert empty.value.field == "genesis_hash"


# --- checks a lying node cannot reach (a majority of organisations lying) -----------------------


def _altered(
    chain: VerifiedChain, changes: dict[str, Callable[[dict[str, Any]], None]]
) -> VerifiedChain:
    """``chain`` with records changed in its verified state (as if the endorsers lied)."""
    state = chain.state.copy()
    for key, change in changes.items():
        found = state.get(key)
        assert found is not None
        state.apply({key: forge_json(change)(found[0])}, found[1])
    return VerifiedChain(chain.height, chain.last_hash, state, chain.channel)


def test_aggregates_that_differ_from_the_ballots_are_refused(world: World) -> None:
    chain = world.verified()
    question = chain.question("levy")
    assert len(chain.secret_totals(question)) == 2
    change = _one_ballot(world, "levy", 0)
    lied = _altered(chain, {keys.aggregate_key("levy", s): change for s in range(2)})
    with pytest.raises(NotVerified) as info:
        lied.secret_totals(question)
    assert info.value.field == "aggregate"


def test_a_ballot_record_that_does_not_read_back_is_refused(world: World) -> None:
    chain = world.verified()
    question = chain.question("levy")
    key = next(k for k, _, _ in chain.state.range(*partial_key_range(keys.BALLOT, ["levy"])))

    def off_group(record: dict[str, Any]) -> None:
        record["ballot"]["encrypted"]["selections"][0]["ciphertext"]["alpha"] = "00" * 32

    with pytest.raises(NotVerified) as info:
        _altered(chain, {key: off_group}).secret_totals(question)
    assert info.value.field == "ballot_record" and "alpha" in info.value.message


def test_a_dealing_with_a_bad_signature_is_never_judged(world: World) -> None:
    chain = world.verified()
    ceremony = chain.ceremony("pending")
    assert sorted(chain.dealings(ceremony)) == [1, 2, 3]
    lied = _altered(chain, {keys.dealing_key("pending", 2): _forged_share})
    with pytest.raises(NotVerified) as info:
        lied.dealings(ceremony)
    assert info.value.field == "dealing" and "sig" in info.value.message


def test_a_block_is_what_the_verified_state_is_built_from(world: World) -> None:
    blocks = world.blocks()
    chain = world.verified()
    assert chain.height == len(blocks)
    assert unpack_block(blocks[-1]).number == chain.height - 1


# --- every other refusal of the verified reads ---------------------------------------------------


def test_a_replayed_endorsed_answer_is_refused(world_liar: World) -> None:
    """A genuine endorsed answer to another proposal (the node keeps the first it saw and
    sends it again): every signature holds, the proposal is not this one."""
    world = world_liar
    world.liar.lie(Lies(replay=True))
    world.cli.json("results", "budget")  # the node keeps GetQuestion(budget), endorsed
    error = world.refused("vote", "trip", "--wallet", world.out["wallets"][0], "-c", "Gyeongju")
    assert error["code"] == "NOT_VERIFIED" and error["field"] == "endorsed_read"
    assert "GetQuestion" in error["message"] and "trip" in error["message"]
    assert world.sent_secrets() == set()


def test_an_endorsed_answer_that_is_no_success_is_refused(world_liar: World) -> None:
    """Two organisations colluding (a majority: this passes every signature and policy check)
    endorse a response whose status is not 200: it is not an answer to act on."""
    world = world_liar
    majority = Insider.of(world.material, 0, 1)
    world.liar.lie(Lies(endorsed=lambda f, a, v: v, insider=majority, status=300))
    error = world.refused("results", "budget")
    assert error["code"] == "NOT_VERIFIED" and error["field"] == "endorsed_read"
    assert "status 300" in error["message"]


def test_endorsed_reads_need_a_gateway(world: World) -> None:
    reads = ChainReads(lambda a, b: world.blocks(a, b), world.anchor())
    with pytest.raises(NotVerified) as info:
        reads.endorsed()
    assert info.value.field == "trust_anchor"


def test_records_the_verified_state_does_not_hold_are_refused(world: World) -> None:
    chain = world.verified()
    for read, check in ((chain.question, "question_record"), (chain.ceremony, "ceremony_record")):
        with pytest.raises(NotVerified) as info:
            read("nope")
        assert info.value.field == check and "'nope'" in info.value.message
    with pytest.raises(NotVerified) as open_mode:
        chain.election_key(chain.question("trip"))
    assert open_mode.value.field == "question_record" and "not secret" in open_mode.value.message


def test_an_election_key_of_a_ceremony_not_complete_is_refused(world: World) -> None:
    chain = world.verified()
    dealing = _altered(chain, {keys.ceremony_key("board"): lambda c: c.update(state="DEALING")})
    with pytest.raises(CeremonyNotComplete) as info:
        dealing.election_key(dealing.question("poll"))
    assert info.value.field == "election"


def test_totals_of_a_question_not_aggregated_are_refused(world: World) -> None:
    chain = world.verified()
    with pytest.raises(AggregationIncomplete) as info:
        chain.secret_totals(chain.question("poll"))
    assert info.value.field == "shard"


def test_a_dealing_under_another_trustees_key_is_refused(world: World) -> None:
    """Trustee 3's genuine, signed dealing stored as trustee 2's."""
    chain = world.verified()
    ceremony = chain.ceremony("pending")
    third = chain.record(keys.dealing_key("pending", 3))

    def swap(record: dict[str, Any]) -> None:
        record.clear()
        record.update(third)

    lied = _altered(chain, {keys.dealing_key("pending", 2): swap})
    with pytest.raises(NotVerified) as info:
        lied.dealings(ceremony)
    assert info.value.field == "dealing" and "trustee 3's dealing" in info.value.message


@pytest.mark.parametrize(
    ("make", "says"),
    [
        # Not registered in the ceremony: fresh keys at index 1.
        (lambda channel: tr.new_trustee(channel, "board", 3, 2, 1), "is not this trustee's"),
        # Another ceremony shape than the verified record's.
        (lambda channel: tr.new_trustee(channel, "board", 4, 2, 1), "2 of 3"),
    ],
)
def test_a_trustee_acts_only_in_its_own_verified_ceremony(
    world: World, make: Callable[[str], tr.TrusteeSecrets], says: str
) -> None:
    with connect_cli(
        world.material.directory, world.liar.address, None, None, default_role="admin"
    ) as conn:
        trustee = make(conn.channel_name)
        with pytest.raises(NotVerified) as info:
            recipes.dealing_posting(conn.contract, trustee)
    assert info.value.field == "ceremony_record" and says in info.value.message


def test_a_trustees_commands_refuse_what_the_verified_state_rules_out(world: World) -> None:
    board = world.out["board"][0]
    done = world.refused("trustee", "check", "--trustee", board)
    assert done["code"] == "INVALID_TRANSITION" and "COMPLETE" in done["message"]
    open_mode = world.cli.json("trustee", "decrypt", "trip", "--trustee", board, code=2)
    assert open_mode["error"]["code"] == "INVALID_FIELD"
    still_open = world.refused("trustee", "decrypt", "poll", "--trustee", board)
    assert still_open["code"] == "INVALID_TRANSITION" and "OPEN" in still_open["message"]


def _lie_history(function: str, args: list[str], value: Any) -> Any:
    if function == "GetHistory":
        return []
    return value


def test_a_hidden_ballot_is_never_shown_missing_from_the_history(world_liar: World) -> None:
    """`mvote history` shows the verified participation: a node that drops the voter's entry
    from its plain answer is not believed, and one that also forges the endorsed answer is
    refused naming the check."""
    world = world_liar
    wallet = world.out["wallets"][0]
    honest = world.cli.json("history", "--wallet", wallet)["history"]
    assert honest, "the voter voted in the module's set-up"
    world.liar.lie(Lies(answers=_lie_history))
    assert world.cli.json("history", "--wallet", wallet)["history"] == honest
    world.liar.lie(Lies(answers=_lie_history, endorsed=_lie_history))
    error = world.refused("history", "--wallet", wallet)
    assert error["code"] == "NOT_VERIFIED" and error["field"] == "endorsement_signature"
