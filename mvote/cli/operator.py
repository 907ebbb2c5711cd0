"""The operator's commands: ``question``, ``roster``, ``tally``, ``results``, ``export``."""

from __future__ import annotations

import datetime
import json
import re
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from mvote.chaincode._eligibility import onsite_code_hash
from mvote.chaincode._errors import InvalidField, MvoteError, NoQuorum
from mvote.chaincode._records import (
    FinalResults,
    LiveResults,
    Outcome,
    Plurality,
    Question,
    QuestionSpec,
    TallyRecord,
    YesNoOutcome,
)
from mvote.cli._common import (
    REFUSED,
    Failure,
    Output,
    about_file,
    fail,
    failure_of,
    local_time,
    read_text,
    remote,
    run,
)
from mvote.cli._connect import ANYWHERE, Target, connected
from mvote.client import recipes
from mvote.client._errors import QuestionOpen
from mvote.client._voting import Recorded, VotingContract
from mvote.client._wallet import Wallet
from mvote.verifier._chainfile import write_chain

question_app = typer.Typer(
    help="Create, open, close, cancel and inspect questions.", no_args_is_help=True
)
roster_app = typer.Typer(help="Create, fill and seal voter rosters.", no_args_is_help=True)


# --- times -------------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str, what: str) -> int:
    """``90``, ``90s``, ``15m``, ``2h``, ``7d``, ``1w`` (or a sum: ``1d12h``) -> seconds."""
    if text.isdigit():
        return int(text)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        fail(f"{what}: expected a duration like 90s, 15m, 2h, 7d, got {text!r}")
    return sum(int(n) * _UNIT[u] for n, u in parts)


def parse_time(text: str, what: str, now: int) -> int:
    """``now``, ``+2h`` (from now), Unix seconds, or an ISO 8601 date-time -> Unix seconds."""
    if text == "now":
        return now
    if text.startswith("+"):
        return now + parse_duration(text[1:], what)
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        fail(f"{what}: expected now, +DURATION, Unix seconds or ISO 8601, got {text!r}")
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return int(moment.timestamp())


# --- question ----------------------------------------------------------------------------------


def _load_spec_file(path: Path) -> dict[str, Any]:
    text = read_text(path, "spec")
    try:
        doc = (
            json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        )  # YAML is a superset of JSON: anything else is read as YAML
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        fail(f"spec: {path} is not JSON or YAML: {exc}", error="MALFORMED")
    if not isinstance(doc, dict):
        fail(f"spec: {path} must hold one object (the question spec)", error="MALFORMED")
    return doc


def _registrar_key(value: str) -> str:
    """A registrar's public key: 64 hex digits, or a registrar wallet file (its public key)."""
    if re.fullmatch(r"[0-9a-f]{64}", value):
        return value
    path = Path(value)
    if path.is_file():
        with about_file(path, "--registrar"):
            return Wallet.load(path).public_key
    fail(f"--registrar: expected 64 lowercase hex digits or a registrar key file, got {value!r}")


def build_spec(
    doc: dict[str, Any],
    *,
    qid: str | None,
    title: str | None,
    description: str | None,
    options: list[str],
    rule: str | None,
    min_choices: int | None,
    max_choices: int | None,
    threshold_bp: int | None,
    turnout: str | None,
    roster: str | None,
    registrars: list[str],
    onsite_code: str | None,
    opens: str | None,
    closes: str | None,
    duration: str,
    shards: int | None,
    now: int,
    mode: str | None = None,
    election: str | None = None,
) -> QuestionSpec:
    """A question spec from a file's fields overridden by flags, checked locally."""
    spec = dict(doc)
    for name, value in (("qid", qid), ("title", title), ("description", description)):
        if value is not None:
            spec[name] = value
    spec.setdefault("description", "")
    if options:
        spec["options"] = options
    if rule is not None:
        spec["rule"] = _rule(rule, min_choices, max_choices, threshold_bp, turnout)
    _set_eligibility(spec, roster, registrars, onsite_code)
    schedule = spec.get("schedule")
    if not isinstance(schedule, dict) or opens is not None or closes is not None:
        spec["schedule"] = _schedule(opens, closes, duration, now)
    _set_mode(spec, mode, election)
    if shards is not None:
        spec["shards"] = shards
    spec.setdefault("shards", 1)
    missing = [f for f in ("qid", "title", "options", "rule", "eligibility") if f not in spec]
    if missing:
        fail(
            f"spec: missing {', '.join(missing)}",
            hint="give a spec file (JSON or YAML, see docs/records.md) or the flags "
            "--qid, --title, --option (twice or more), --rule, --roster or --registrar",
        )
    return QuestionSpec.from_json(spec)


def _rule(
    rule: str,
    min_choices: int | None,
    max_choices: int | None,
    threshold_bp: int | None,
    turnout: str | None,
) -> dict[str, Any]:
    """``--rule`` and its flags as the spec's ``rule`` object."""
    if rule == "single":
        return {"kind": "single"}
    if rule == "multi":
        return {"kind": "multi", "min": min_choices or 1, "max": max_choices or 1}
    if rule == "yesno":
        return {
            "kind": "yesno",
            "threshold_bp": 5000 if threshold_bp is None else threshold_bp,
            "min_turnout": _turnout(turnout),
        }
    fail(f"--rule: expected single, multi or yesno, got {rule!r}")


def _set_eligibility(
    spec: dict[str, Any], roster: str | None, registrars: list[str], onsite_code: str | None
) -> None:
    """``--roster`` / ``--registrar`` and ``--onsite-code`` into ``spec["eligibility"]``."""
    if roster is not None and registrars:
        fail("--roster and --registrar: a question is either roster or open eligibility")
    if roster is not None:
        spec["eligibility"] = {"kind": "roster", "roster": roster}
    elif registrars:
        spec["eligibility"] = {
            "kind": "open",
            "registrars": sorted({_registrar_key(r) for r in registrars}),
        }
    if onsite_code is None:
        return
    base = spec.get("eligibility")
    if not isinstance(base, dict) or base.get("kind") not in ("roster", "open"):
        fail("--onsite-code: needs roster or open eligibility (--roster or --registrar)")
    salt = secrets.token_bytes(16)
    spec["eligibility"] = {
        "kind": "onsite",
        "base": base,
        "code_salt": salt.hex(),
        "code_hash": onsite_code_hash(salt, str(spec.get("qid", "")), onsite_code).hex(),
    }


def _schedule(opens: str | None, closes: str | None, duration: str, now: int) -> dict[str, int]:
    start = parse_time(opens, "--opens-at", now) if opens is not None else now
    end = (
        parse_time(closes, "--closes-at", now)
        if closes is not None
        else start + parse_duration(duration, "--duration")
    )
    return {"opens_at": start, "closes_at": end}


def _set_mode(spec: dict[str, Any], mode: str | None, election: str | None) -> None:
    """``--mode`` and ``--election`` into ``spec``: secret mode needs an election, open none."""
    if mode is not None:
        if mode not in ("open", "secret"):
            fail(f"--mode: expected open or secret, got {mode!r}")
        spec["mode"] = mode
    if election is not None:
        spec["election"] = election
        spec.setdefault("mode", "secret")
    spec.setdefault("mode", "open")
    if spec["mode"] == "secret" and "election" not in spec:
        fail(
            "--mode secret: needs --election CID (a completed key ceremony)",
            hint="`mvote trustee ceremony show CID` shows a ceremony's state",
        )
    if spec["mode"] == "open" and "election" in spec:
        fail("--election: only for --mode secret")


def _turnout(text: str | None) -> dict[str, Any]:
    if text is None or text == "none":
        return {"kind": "none"}
    if text.endswith("%"):
        try:
            return {"kind": "share", "bp": round(float(text[:-1]) * 100)}
        except ValueError:
            pass
    elif text.isdigit():
        return {"kind": "count", "count": int(text)}
    fail(f"--turnout: expected none, a count (250) or a share (40%), got {text!r}")


def describe_question(q: dict[str, Any]) -> str:
    rule = q["rule"]
    if rule["kind"] == "multi":
        rule_text = f"pick {rule['min']} to {rule['max']} of {len(q['options'])}"
    elif rule["kind"] == "yesno":
        turnout = rule["min_turnout"]
        t = {
            "none": "no minimum turnout",
            "count": f"turnout >= {turnout.get('count')}",
            "share": f"turnout >= {turnout.get('bp', 0) / 100:g}%",
        }[turnout["kind"]]
        rule_text = f"yes/no, passes with > {rule['threshold_bp'] / 100:g}% yes, {t}"
    else:
        rule_text = "single choice"
    elig = q["eligibility"]
    onsite = elig["kind"] == "onsite"
    base = elig["base"] if onsite else elig
    if base["kind"] == "roster":
        elig_text = f"roster {base['roster']}"
    else:
        elig_text = f"open, credential from registrar(s) {', '.join(r[:16] + '...' for r in base['registrars'])}"
    if onsite:
        elig_text += " + on-site code"
    lines = [
        f"{q['title']}  [{q['qid']}]",
        f"  state:       {q.get('state', 'DRAFT')}"
        + (f" (owner {q['owner']})" if "owner" in q else ""),
        f"  rule:        {rule_text}",
        f"  eligibility: {elig_text}",
        f"  schedule:    {local_time(q['schedule']['opens_at'])} to {local_time(q['schedule']['closes_at'])}",
        f"  mode:        {q['mode']}, {q['shards']} shard(s)"
        + (f", ballots encrypted under ceremony {q['election']}" if q.get("election") else ""),
    ]
    if q.get("eligible") is not None:
        lines.append(f"  eligible:    {q['eligible']}")
    if q.get("description"):
        lines.append(f"  {q['description']}")
    lines.append("  options:")
    lines += [f"    {i:>3}  {text}" for i, text in enumerate(q["options"], 1)]
    for t in q.get("transitions", []):
        reason = f" ({t['reason']})" if t.get("reason") else ""
        lines.append(f"  {t['state']:<9} at {local_time(t['at'])}, tx {t['tx'][:16]}...{reason}")
    return "\n".join(lines)


@question_app.command("create")
@connected
def question_create(
    spec_file: Annotated[
        Path | None,
        typer.Argument(
            metavar="SPEC", help="A question spec, JSON or YAML (fields of docs/records.md)."
        ),
    ] = None,
    qid: Annotated[str | None, typer.Option("--qid", help="Question id.")] = None,
    title: Annotated[str | None, typer.Option(help="Title.")] = None,
    description: Annotated[str | None, typer.Option(help="Description.")] = None,
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="An option (repeat, in order).")
    ] = None,
    rule: Annotated[str | None, typer.Option(help="single, multi or yesno.")] = None,
    min_choices: Annotated[int | None, typer.Option("--min", help="multi: fewest picks.")] = None,
    max_choices: Annotated[int | None, typer.Option("--max", help="multi: most picks.")] = None,
    threshold_bp: Annotated[
        int | None,
        typer.Option(
            "--threshold-bp", help="yesno: passes when yes > this share (basis points; 5000)."
        ),
    ] = None,
    turnout: Annotated[
        str | None,
        typer.Option(help="yesno: minimum turnout: none, a count (250) or a share (40%)."),
    ] = None,
    roster: Annotated[
        str | None, typer.Option(help="Roster eligibility: the sealed roster's id.")
    ] = None,
    registrar: Annotated[
        list[str] | None,
        typer.Option(
            "--registrar",
            help="Open eligibility: a registrar's public key (hex) or key file (repeat).",
        ),
    ] = None,
    onsite_code: Annotated[
        str | None,
        typer.Option(
            "--onsite-code", help="Also require this code shown on site (salted hash on chain)."
        ),
    ] = None,
    opens_at: Annotated[
        str | None, typer.Option("--opens-at", help="now, +DURATION, Unix seconds or ISO 8601.")
    ] = None,
    closes_at: Annotated[
        str | None, typer.Option("--closes-at", help="now, +DURATION, Unix seconds or ISO 8601.")
    ] = None,
    duration: Annotated[
        str, typer.Option(help="Without --closes-at: how long it stays open (2h, 7d).")
    ] = "7d",
    shards: Annotated[int | None, typer.Option(help="Aggregation shards (1..1024).")] = None,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode",
            help="open (ballots in clear, default) or secret (encrypted, needs --election).",
        ),
    ] = None,
    election: Annotated[
        str | None,
        typer.Option(
            "--election", help="Secret mode: the completed key ceremony whose key encrypts ballots."
        ),
    ] = None,
    open_now: Annotated[
        bool, typer.Option("--open", help="Open it right after creating it.")
    ] = False,
    target: Target = ANYWHERE,
) -> None:
    """Create a question (DRAFT) from a spec file and/or flags; --open opens it too."""

    def body(out: Output) -> None:
        doc = _load_spec_file(spec_file) if spec_file is not None else {}
        spec = build_spec(
            doc,
            qid=qid,
            title=title,
            description=description,
            options=option or [],
            rule=rule,
            min_choices=min_choices,
            max_choices=max_choices,
            threshold_bp=threshold_bp,
            turnout=turnout,
            roster=roster,
            registrars=registrar or [],
            onsite_code=onsite_code,
            opens=opens_at,
            closes=closes_at,
            duration=duration,
            shards=shards,
            now=int(time.time()),
            mode=mode,
            election=election,
        )
        with target.connect("admin") as conn, remote():
            made = recipes.create_question(conn.contract, spec, open_now=open_now)
        done, record = made.created, made.question.to_json()
        out.result(
            {"question": record, "tx": done.transaction_id, "block": done.block_number},
            lambda: (
                f"created {spec.qid} in block {done.block_number} (tx {done.transaction_id})\n"
                + describe_question(record)
                + ("" if open_now else f"\nnext: mvote question open {spec.qid}")
            ),
        )

    run(target.as_json, body)


def _transition(
    target: Target, qid: str, verb: str, step: Callable[[VotingContract], Recorded[Question]]
) -> None:
    def body(out: Output) -> None:
        with target.connect("admin") as conn, remote():
            done = step(conn.contract)
        state = done.value.state
        out.result(
            {
                "question": done.value.to_json(),
                "tx": done.transaction_id,
                "block": done.block_number,
            },
            f"{qid} {verb}: now {state} (block {done.block_number}, tx {done.transaction_id})",
        )

    run(target.as_json, body)


@question_app.command("open")
@connected
def question_open(
    qid: Annotated[str, typer.Argument(help="Question id.")],
    target: Target = ANYWHERE,
) -> None:
    """Open a DRAFT question for ballots (its roster must be sealed)."""
    _transition(target, qid, "opened", lambda c: c.open_question(qid))


@question_app.command("close")
@connected
def question_close(
    qid: Annotated[str, typer.Argument(help="Question id.")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded on chain).")] = None,
    target: Target = ANYWHERE,
) -> None:
    """Close an OPEN question: no more ballots; then `mvote tally QID`."""
    _transition(target, qid, "closed", lambda c: c.close_question(qid, reason or None))


@question_app.command("cancel")
@connected
def question_cancel(
    qid: Annotated[str, typer.Argument(help="Question id.")],
    reason: Annotated[str, typer.Option(help="Why (required; recorded on chain).")],
    target: Target = ANYWHERE,
) -> None:
    """Cancel a DRAFT or OPEN question (it is never tallied)."""
    _transition(target, qid, "cancelled", lambda c: c.cancel_question(qid, reason))


@connected
def ceremony_cancel(
    cid: Annotated[str, typer.Argument(help="The ceremony id.")],
    reason: Annotated[str, typer.Option(help="Why (required; recorded on chain).")],
    target: Target = ANYWHERE,
) -> None:
    """Operator: cancel a ceremony still DEALING (its trustees never all dealt or checked). Its
    postings are removed from state, so `mvote trustee ceremony create` with the same id and
    registrations restarts it."""

    def body(out: Output) -> None:
        with target.connect("admin") as conn, remote():
            done = conn.contract.cancel_ceremony(cid, reason)
        record = done.value
        dealt = ", ".join(map(str, record.dealt)) or "none"
        out.result(
            {"ceremony": record.to_json(), "tx": done.transaction_id, "block": done.block_number},
            f"cancelled ceremony {cid} in block {done.block_number} (tx {done.transaction_id}); "
            f"trustees who had dealt: {dealt}\n"
            f"restart it: mvote trustee ceremony create {cid} REGISTRATION... --threshold K",
        )

    run(target.as_json, body)


@question_app.command("show")
@connected
def question_show(
    qid: Annotated[str, typer.Argument(help="Question id.")],
    target: Target = ANYWHERE,
) -> None:
    """Show a question: rule, eligibility, schedule, options (with their numbers), state
    (verified from the genesis hash, as `mvote results` reads)."""

    def body(out: Output) -> None:
        with target.connect("client") as conn, remote():
            record = recipes.question(conn.contract, qid).to_json()
        out.result(record, lambda: describe_question(record))

    run(target.as_json, body)


@question_app.command("list")
@connected
def question_list(
    target: Target = ANYWHERE,
) -> None:
    """List every question on the channel with its state."""

    def body(out: Output) -> None:
        with target.connect("client") as conn, remote():
            records = [q.to_json() for q in recipes.questions(conn.contract)]

        def human() -> str:
            if not records:
                return "no questions yet: mvote question create --help"
            return "\n".join(
                f"{q['qid']:<24} {q['state']:<9} {q['owner']:<16} {q['title']}" for q in records
            )

        out.result(records, human)

    run(target.as_json, body)


# --- roster ------------------------------------------------------------------------------------


@roster_app.command("create")
@connected
def roster_create(
    rid: Annotated[str, typer.Argument(help="Roster id.")],
    title: Annotated[str, typer.Option(help="What the roster is (a school, a housing complex).")],
    target: Target = ANYWHERE,
) -> None:
    """Create an empty roster owned by your organisation."""

    def body(out: Output) -> None:
        with target.connect("admin") as conn, remote():
            done = conn.contract.create_roster(rid, title)
        out.result(
            {"roster": done.value.to_json(), "tx": done.transaction_id, "block": done.block_number},
            f"created roster {rid} ({title}); next: mvote roster add {rid} --csv FILE",
        )

    run(target.as_json, body)


def _keys_from_csv(path: Path) -> list[str]:
    """Voter public keys from a CSV: a column named public_key (or key, voter), else the first."""
    try:
        return recipes.roster_keys_from_csv(read_text(path, "--csv"))
    except InvalidField as exc:
        fail(f"--csv: {path} {exc.message}")


def _keys_from_wallets(folder: Path) -> list[str]:
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        fail(f"--wallets: no *.json wallet files in {folder}")
    keys = []
    for file in files:
        with about_file(file, "--wallets"):
            keys.append(Wallet.load(file).public_key)
    return keys


@roster_app.command("add")
@connected
def roster_add(
    rid: Annotated[str, typer.Argument(help="Roster id.")],
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", help="CSV of voter public keys (column public_key, or the first)."),
    ] = None,
    wallets: Annotated[
        Path | None, typer.Option("--wallets", help="A folder of wallet files (*.json).")
    ] = None,
    key: Annotated[
        list[str] | None, typer.Option("--key", help="A voter public key (repeat).")
    ] = None,
    target: Target = ANYWHERE,
) -> None:
    """Add voters (their key hashes) to an unsealed roster, in batches of 2000 voters. Run it
    again after an interruption: voters already on the roster are skipped and counted."""

    def body(out: Output) -> None:
        public_keys: list[str] = []
        if csv_file is not None:
            public_keys += _keys_from_csv(csv_file)
        if wallets is not None:
            public_keys += _keys_from_wallets(wallets)
        for k in key or []:
            if not re.fullmatch(r"[0-9a-f]{64}", k):
                fail(f"--key: expected 64 lowercase hex digits, got {k!r}")
            public_keys.append(k)
        if not public_keys:
            fail("no voters given", hint="pass --csv FILE, --wallets DIR or --key HEX")
        with target.connect("admin") as conn, remote():
            added = recipes.add_roster(conn.contract, rid, public_keys, progress=out.progress)
        roster = added.roster.to_json() if added.roster is not None else {}
        batches = len(added.transactions)
        skipped = f"; {added.skipped} already on the roster, skipped" if added.skipped else ""
        out.result(
            {
                "roster": roster,
                "added": added.added,
                "skipped": added.skipped,
                "batches": batches,
                "txs": [t.transaction_id for t in added.transactions],
            },
            f"added {added.added} voters to {rid} in {batches} transaction(s){skipped}; "
            f"roster now has {roster['count']}; seal it with: mvote roster seal {rid}",
        )

    run(target.as_json, body)


@roster_app.command("seal")
@connected
def roster_seal(
    rid: Annotated[str, typer.Argument(help="Roster id.")],
    target: Target = ANYWHERE,
) -> None:
    """Seal a roster: it never changes again, and questions may use it."""

    def body(out: Output) -> None:
        with target.connect("admin") as conn, remote():
            done = conn.contract.seal_roster(rid)
        r = done.value.to_json()
        out.result(
            {"roster": r, "tx": done.transaction_id, "block": done.block_number},
            f"sealed roster {rid}: {r['count']} voters, digest {r['digest']}",
        )

    run(target.as_json, body)


@roster_app.command("show")
@connected
def roster_show(
    rid: Annotated[str, typer.Argument(help="Roster id.")],
    target: Target = ANYWHERE,
) -> None:
    """Show a roster's header: owner, voter count, digest, sealed."""

    def body(out: Output) -> None:
        with target.connect("client") as conn, remote():
            r = conn.contract.get_roster(rid).to_json()
        out.result(
            r,
            f"{r['rid']}: {r['title']} (owner {r['owner']}), {r['count']} voters, "
            f"{'sealed' if r['sealed'] else 'open'}, digest {r['digest']}",
        )

    run(target.as_json, body)


# --- results and tally -------------------------------------------------------------------------


def describe_counts(question: dict[str, Any], counts: Sequence[int], ballots: int) -> list[str]:
    top = max(counts, default=0) or 1
    width = max((len(o) for o in question["options"]), default=0)
    lines = [
        f"    {i + 1:>3}  {text:<{min(width, 40)}} {counts[i]:>6}  {'#' * round(30 * counts[i] / top)}".rstrip()
        for i, text in enumerate(question["options"])
    ]
    return [f"  ballots: {ballots}", *lines]


def describe_outcome(question: dict[str, Any], outcome: Outcome) -> str:
    match outcome:
        case YesNoOutcome():
            verdict = "PASSED" if outcome.passed else "NOT PASSED"
            return (
                f"  outcome: {verdict} (approval {'met' if outcome.approval_met else 'not met'}, "
                f"turnout {'met' if outcome.turnout_met else 'not met'})"
            )
        case Plurality(winners=winners):
            names = ", ".join(question["options"][i] for i in winners) or "none"
            return f"  outcome: {names}"


def describe_decryption(tally: TallyRecord) -> list[str]:
    """A secret tally's decryption: which trustees' proved partial decryptions were combined."""
    d = tally.decryption
    if d is None:
        return []
    return [
        f"  decrypted by trustees {', '.join(map(str, d.trustees))} of ceremony "
        f"{d.ceremony} (Lagrange coefficients and every proof recorded)"
    ]


def describe_tally(question: dict[str, Any], t: TallyRecord) -> list[str]:
    """A tally's counts, outcome and (secret mode) decryption, one line each."""
    return [
        *describe_counts(question, t.counts, t.ballots),
        describe_outcome(question, t.outcome),
        *describe_decryption(t),
    ]


@connected
def results(
    qid: Annotated[str, typer.Argument(help="Question id.")],
    target: Target = ANYWHERE,
) -> None:
    """Show a question's results: live counts while open, the final tally once tallied (read
    by endorsed reads, verified from the genesis hash)."""

    def body(out: Output) -> None:
        with target.connect("client") as conn, remote():
            shown = recipes.results(conn.contract, qid)
        question, res = shown.question.to_json(), shown.results

        def human() -> str:
            head = f"{question['title']}  [{qid}]  {res.state}"
            match res:
                case FinalResults(tally=t):
                    lines = describe_tally(question, t)
                    if t.eligible is not None:
                        lines[0] += f" of {t.eligible} eligible"
                    return "\n".join([head + " (final tally)", *lines])
                case LiveResults(counts=None):
                    return (
                        f"{head} (secret ballots: {res.ballots} cast; only the final tally "
                        "decrypts the totals)"
                    )
                case LiveResults(counts=counts, ballots=ballots):
                    return "\n".join(
                        [
                            head + " (live counts, not final)",
                            *describe_counts(question, counts or (), ballots),
                        ]
                    )

        out.result(res.to_json(), human)

    run(target.as_json, body)


def _tally(
    contract: VotingContract, qid: str, *, close: bool, batch: int, out: Output
) -> recipes.TallyOutcome:
    """The tally recipe, its refusals with what to do next."""
    try:
        return recipes.tally(contract, qid, close=close, batch=batch, progress=out.progress)
    except QuestionOpen as exc:
        # Not "close it": the operator may only want to see how the vote stands.
        hint = (
            f"{qid} is still open for ballots: `mvote results {qid}` shows the live counts; "
            f"to end the vote now and tally it, run `mvote tally {qid} --close`"
        )
        raise Failure(REFUSED, exc.code, exc.message, hint=hint, field=exc.field) from None
    except NoQuorum as exc:
        raise Failure(
            REFUSED,
            exc.code,
            f"{qid}: every shard is aggregated; {exc.message}",
            hint="at least k trustees post their partial decryptions (`mvote trustee "
            f"decrypt {qid} --trustee FILE`), then run `mvote tally {qid}` again",
            field=exc.field,
        ) from None
    except MvoteError as exc:
        raise failure_of(exc, remote=True) from exc


@connected
def tally(
    qid: Annotated[str, typer.Argument(help="Question id.")],
    close: Annotated[
        bool, typer.Option("--close", help="Close the question first if it is still open.")
    ] = False,
    batch: Annotated[
        int, typer.Option(min=1, max=5000, help="Ballots summed per aggregation transaction.")
    ] = 1000,
    target: Target = ANYWHERE,
) -> None:
    """Aggregate every shard of a CLOSED question to its end, then record the tally. Run again
    on a TALLIED question (say, when the first run lost its acknowledgement), it shows the
    recorded tally."""

    def body(out: Output) -> None:
        with target.connect("admin") as conn:
            done = _tally(conn.contract, qid, close=close, batch=batch, out=out)
        question = done.question.to_json()
        transactions = done.aggregate_transactions
        t = done.tally
        status = (
            f"already TALLIED in block {done.block_number} (tx {done.transaction_id}); the "
            "recorded result"
            if done.already
            else f"TALLIED in block {done.block_number}"
        )
        out.result(
            {
                "tally": t.to_json(),
                "tx": done.transaction_id,
                "block": done.block_number,
                "aggregate_transactions": transactions,
                "already_tallied": done.already,
            },
            lambda: "\n".join(
                [
                    f"{question['title']}  [{qid}]  {status}",
                    *describe_tally(question, t),
                ]
            ),
        )

    run(target.as_json, body)


@connected
def export(
    out_file: Annotated[Path, typer.Argument(metavar="FILE", help="The chain file to write.")],
    target: Target = ANYWHERE,
) -> None:
    """Pull every committed block over Deliver into a chain file (Fabric's block file format),
    for `mvote-verify audit --chain FILE`."""

    def body(out: Output) -> None:
        with target.connect("client") as conn:
            blocks = conn.blocks(0)
            anchor = conn.material.genesis_hash.hex()
        out_file.parent.mkdir(parents=True, exist_ok=True)
        count = write_chain(out_file, blocks)
        size = out_file.stat().st_size
        out.result(
            {"file": str(out_file), "blocks": count, "bytes": size, "genesis_hash": anchor},
            f"exported {count} blocks ({size} bytes) to {out_file}\n"
            f"audit it: mvote-verify audit --chain {out_file} --genesis-hash {anchor}",
        )

    run(target.as_json, body)
