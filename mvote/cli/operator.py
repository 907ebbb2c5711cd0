"""The operator's commands: ``question``, ``roster``, ``tally``, ``results``, ``export``."""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from mvote.chaincode import encoding, keys
from mvote.chaincode.eligibility import onsite_code_hash
from mvote.chaincode.records import QuestionSpec, roster_batches
from mvote.cli._common import (
    DEFAULT_NETWORK,
    REFUSED,
    Failure,
    JsonOpt,
    NetworkOpt,
    NodeOpt,
    OrgOpt,
    Output,
    PlaintextOpt,
    fail,
    read_text,
    run,
)
from mvote.cli._connect import Connection, IdentityOpt, connect
from mvote.client.wallet import Wallet
from mvote.verifier.chainfile import write_chain

question_app = typer.Typer(
    help="Create, open, close, cancel and inspect questions.", no_args_is_help=True
)
roster_app = typer.Typer(help="Create, fill and seal voter rosters.", no_args_is_help=True)


def _admin(
    network: Path, node: str | None, org: str | None, identity: str | None, plaintext: bool
) -> Connection:
    return connect(network, node, org, identity, default_role="admin", plaintext=plaintext)


def _client(
    network: Path, node: str | None, org: str | None, identity: str | None, plaintext: bool
) -> Connection:
    return connect(network, node, org, identity, default_role="client", plaintext=plaintext)


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


def _when(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


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
        if rule == "single":
            spec["rule"] = {"kind": "single"}
        elif rule == "multi":
            spec["rule"] = {"kind": "multi", "min": min_choices or 1, "max": max_choices or 1}
        elif rule == "yesno":
            spec["rule"] = {
                "kind": "yesno",
                "threshold_bp": 5000 if threshold_bp is None else threshold_bp,
                "min_turnout": _turnout(turnout),
            }
        else:
            fail(f"--rule: expected single, multi or yesno, got {rule!r}")
    if roster is not None and registrars:
        fail("--roster and --registrar: a question is either roster or open eligibility")
    if roster is not None:
        spec["eligibility"] = {"kind": "roster", "roster": roster}
    elif registrars:
        spec["eligibility"] = {
            "kind": "open",
            "registrars": sorted({_registrar_key(r) for r in registrars}),
        }
    if onsite_code is not None:
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
    schedule = spec.get("schedule")
    if not isinstance(schedule, dict) or opens is not None or closes is not None:
        start = parse_time(opens, "--opens-at", now) if opens is not None else now
        end = (
            parse_time(closes, "--closes-at", now)
            if closes is not None
            else start + parse_duration(duration, "--duration")
        )
        spec["schedule"] = {"opens_at": start, "closes_at": end}
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
        f"  schedule:    {_when(q['schedule']['opens_at'])} to {_when(q['schedule']['closes_at'])}",
        f"  mode:        {q['mode']}, {q['shards']} shard(s)"
        + (f", ballots encrypted under ceremony {q['election']}" if q.get("election") else ""),
    ]
    if q.get("eligible") is not None:
        lines.append(f"  eligible:    {q['eligible']}")
    if q.get("description"):
        lines.append(f"  {q['description']}")
    lines.append("  options:")
    lines += [f"    {i:>3}  {text}" for i, text in enumerate(q["options"])]
    for t in q.get("transitions", []):
        reason = f" ({t['reason']})" if t.get("reason") else ""
        lines.append(f"  {t['state']:<9} at {_when(t['at'])}, tx {t['tx'][:16]}...{reason}")
    return "\n".join(lines)


@question_app.command("create")
def question_create(
    spec_file: Annotated[
        Path | None,
        typer.Argument(help="A question spec, JSON or YAML (fields of docs/records.md)."),
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
    network: NetworkOpt = DEFAULT_NETWORK,
    node: NodeOpt = None,
    org: OrgOpt = None,
    identity: IdentityOpt = None,
    plaintext: PlaintextOpt = False,
    as_json: JsonOpt = False,
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
        with _admin(network, node, org, identity, plaintext) as conn:
            done = conn.submit("CreateQuestion", encoding.encode(spec.to_json()))
            record = done.result
            if open_now:
                record = conn.submit("OpenQuestion", spec.qid).result
        out.result(
            {"question": record, "tx": done.transaction_id, "block": done.block_number},
            lambda: (
                f"created {spec.qid} in block {done.block_number} (tx {done.transaction_id})\n"
                + describe_question(record)
                + ("" if open_now else f"\nnext: mvote question open {spec.qid}")
            ),
        )

    run(as_json, body)


def _transition(
    function: str,
    qid: str,
    args: list[str],
    network: Path,
    node: str | None,
    org: str | None,
    identity: str | None,
    plaintext: bool,
    as_json: bool,
    verb: str,
) -> None:
    def body(out: Output) -> None:
        with _admin(network, node, org, identity, plaintext) as conn:
            done = conn.submit(function, qid, *args)
        out.result(
            {"question": done.result, "tx": done.transaction_id, "block": done.block_number},
            f"{qid} {verb}: now {done.result['state']} (block {done.block_number}, "
            f"tx {done.transaction_id})",
        )

    run(as_json, body)


@question_app.command("open")
def question_open(
    qid: Annotated[str, typer.Argument(help="Question id.")],
    network: NetworkOpt = DEFAULT_NETWORK,
    node: NodeOpt = None,
    org: OrgOpt = None,
    identity: IdentityOpt = None,
    plaintext: PlaintextOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Open a DRAFT question for ballots (its roster must be sealed)."""
    _transition("OpenQuestion", qid, [], network, node, org, identity, plaintext, as_json, "opened")


@question_app.command("close")
def question_close(
    qid: Annotated[str, typer.Argument(help="Question id.")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded on chain).")] = None,
    network: NetworkOpt = DEFAULT_NETWORK,
    node: NodeOpt = None,
    org: OrgOpt = None,
    identity: IdentityOpt = None,
    plaintext: PlaintextOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Close an OPEN question: no more ballots; then `mvote tally QID`."""
    args = [reason] if reason else []
    _transition(
        "CloseQuestion", qid, args, network, node, org, identity, plaintext, as_json, "closed"
    )


@question_app.command("cancel")
def question_cancel(
    qid: Annotated[str, typer.Argument(help="Question id.")],
    reason: Annotated[str, typer.Option(help="Why (required; recorded on chain).")],
    network: NetworkOpt = DEFAULT_NETWORK,
    node: NodeOpt = None,
    org: OrgOpt = None,
    identity: IdentityOpt = None,
    plaintext: PlaintextOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a DRAFT or OPEN question (it is never tallied)."""
    _transition(
        "CancelQuestion",
        qid,
        [reason],
        network,
        node,
        org,
        identity,
        plaintext,
        as_json,
        "cancelled",
    )


@question_app.command("show")
def question_show(
    qid: Annotated[str, typer.Argument(help="Question id.")],
    network: NetworkOpt = DEFAULT_NETWORK,
    node: NodeOpt = None,
    org: OrgOpt = None,
    identity: IdentityOpt = None,
    plaintext: PlaintextOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a question: rule, eligibility, schedule, options (with their numbers), state."""

    def body(out: Output) -> None:
        with _client(network, node, org, identity, plaintext) as conn:
            record = conn.evaluate("GetQuestion", qid)
        out.result(record, lambda: describe_question(record))

    run(as_json, body)


@question_app.command("list")
def question_list(
    network: NetworkOpt = DEFAULT_NETWORK,
    node: NodeOpt = None,
    org: OrgOpt = None,
    identity: IdentityOpt = None,
    plaintext: PlaintextOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """List every question on the channel with its state."""

    def body(out: Output) -> None:
        with _client(network, node, org, identity, plaintext) as conn:
            records = conn.evaluate("ListQuestions")

        def human() -> str:
            if not records:
                return "no questions yet: mvote question create --help"
            return "\n".join(
                f"{q['qid']:<24} {q['state']:<9} {q['owner']:<16} {q['title']}" for q in records
            )

        out.result(records, human)

    run(as_json, body)


# --- roster ------------------------------------------------------------------------------------


@roster_app.command("create")
def roster_create(
    rid: Annotated[str, typer.Argument(help="Roster id.")],
    title: Annotated[str, typer.Option(help="What the roster is (a school, a housing complex).")],
    network: NetworkOpt = DEFAULT_NETWORK,
    node: NodeOpt = None,
    org: OrgOpt = None,
    identity: IdentityOpt = None,
    plaintext: PlaintextOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an empty roster owned by your organisation."""

    def body(out: Output) -> None:
        with _admin(network, node, org, identity, plaintext) as conn:
            done = conn.submit("CreateRoster", encoding.encode({"rid": rid, "title": title}))
        out.result(
            {"roster": done.result, "tx": done.transaction_id, "block": done.block_number},
            f"created roster {rid} ({title}); next: mvote roster add {rid} --csv FILE",
        )

    run(as_json, body)


def _keys_from_csv(path: Path) -> list[str]:
    """Voter public keys from a CSV: a column named public_key (or key, voter), else the first."""
    rows = list(csv.reader(io.StringIO(read_text(path, "--csv"))))
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    column = next((header.index(n) for n in ("public_key", "key", "voter") if n in header), None)
    if column is not None:
        rows = rows[1:]
    found = []
    for number, row in enumerate(rows, 2 if column is not None else 1):
        value = row[column or 0].strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            fail(f"--csv: {path} line {number}: expected a 64-hex-digit public key, got {value!r}")
        found.append(value)
    return found


def _keys_from_wallets(folder: Path) -> list[str]:
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        fail(f"--wallets: no *.json wallet files in {folder}")
    return [Wallet.load(f).public_key for f in files]


@roster_app.command("add")
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
    network: NetworkOpt = DEFAULT_NETWORK,
    node: NodeOpt = None,
    org: OrgOpt = None,
    identity: IdentityOpt = None,
    plaintext: PlaintextOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Add voters (their key hashes) to an unsealed roster, in batches of MAX_ROSTER_BATCH."""

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
        entries = sorted({keys.voter_hash(bytes.fromhex(k)).hex() for k in public_keys})
        batches = roster_batches(entries)
        roster: dict[str, Any] = {}
        txs = []
        with _admin(network, node, org, identity, plaintext) as conn:
            for n, batch in enumerate(batches, 1):
                done = conn.submit(
                    "AddRosterEntries", encoding.encode({"rid": rid, "entries": batch})
                )
                roster = done.result
                txs.append(done.transaction_id)
                out.progress(
                    f"batch {n}/{len(batches)}: {len(batch)} entries, block {done.block_number}"
                )
        out.result(
            {"roster": roster, "added": len(entries), "batches": len(batches), "txs": txs},
            f"added {len(entries)} voters to {rid} in {len(batches)} transaction(s); "
            f"roster now has {roster['count']}; seal it with: mvote roster seal {rid}",
        )

    run(as_json, body)


@roster_app.command("seal")
def roster_seal(
    rid: Annotated[str, typer.Argument(help="Roster id.")],
    network: NetworkOpt = DEFAULT_NETWORK,
    node: NodeOpt = None,
    org: OrgOpt = None,
    identity: IdentityOpt = None,
    plaintext: PlaintextOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Seal a roster: it never changes again, and questions may use it."""

    def body(out: Output) -> None:
        with _admin(network, node, org, identity, plaintext) as conn:
            done = conn.submit("SealRoster", rid)
        r = done.result
        out.result(
            {"roster": r, "tx": done.transaction_id, "block": done.block_number},
            f"sealed roster {rid}: {r['count']} voters, digest {r['digest']}",
        )

    run(as_json, body)


@roster_app.command("show")
def roster_show(
    rid: Annotated[str, typer.Argument(help="Roster id.")],
    network: NetworkOpt = DEFAULT_NETWORK,
    node: NodeOpt = None,
    org: OrgOpt = None,
    identity: IdentityOpt = None,
    plaintext: PlaintextOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a roster's header: owner, voter count, digest, sealed."""

    def body(out: Output) -> None:
        with _client(network, node, org, identity, plaintext) as conn:
            r = conn.evaluate("GetRoster", rid)
        out.result(
            r,
            f"{r['rid']}: {r['title']} (owner {r['owner']}), {r['count']} voters, "
            f"{'sealed' if r['sealed'] else 'open'}, digest {r['digest']}",
        )

    run(as_json, body)


# --- results and tally -------------------------------------------------------------------------


def describe_counts(question: dict[str, Any], counts: list[int], ballots: int) -> list[str]:
    top = max(counts, default=0) or 1
    width = max((len(o) for o in question["options"]), default=0)
    lines = [
        f"    {i:>3}  {text:<{min(width, 40)}} {counts[i]:>6}  {'#' * round(30 * counts[i] / top)}".rstrip()
        for i, text in enumerate(question["options"])
    ]
    return [f"  ballots: {ballots}", *lines]


def describe_outcome(question: dict[str, Any], outcome: dict[str, Any]) -> str:
    if outcome["kind"] == "yesno":
        verdict = "PASSED" if outcome["passed"] else "NOT PASSED"
        return (
            f"  outcome: {verdict} (approval {'met' if outcome['approval_met'] else 'not met'}, "
            f"turnout {'met' if outcome['turnout_met'] else 'not met'})"
        )
    names = ", ".join(question["options"][i] for i in outcome["winners"]) or "none"
    return f"  outcome: {names}"


def describe_decryption(tally: dict[str, Any]) -> list[str]:
    """A secret tally's decryption: which trustees' proved partial decryptions were combined."""
    d = tally.get("decryption")
    if not d:
        return []
    return [
        f"  decrypted by trustees {', '.join(map(str, d['trustees']))} of ceremony "
        f"{d['ceremony']} (Lagrange coefficients and every proof recorded)"
    ]


def results(
    qid: Annotated[str, typer.Argument(help="Question id.")],
    network: NetworkOpt = DEFAULT_NETWORK,
    node: NodeOpt = None,
    org: OrgOpt = None,
    identity: IdentityOpt = None,
    plaintext: PlaintextOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a question's results: live counts while open, the final tally once tallied."""

    def body(out: Output) -> None:
        with _client(network, node, org, identity, plaintext) as conn:
            question = conn.evaluate("GetQuestion", qid)
            res = conn.evaluate("GetResults", qid)

        def human() -> str:
            head = f"{question['title']}  [{qid}]  {res['state']}"
            if res["final"]:
                t = res["tally"]
                eligible = f" of {t['eligible']} eligible" if t.get("eligible") is not None else ""
                lines = describe_counts(question, t["counts"], t["ballots"])
                lines[0] += eligible
                return "\n".join(
                    [
                        head + " (final tally)",
                        *lines,
                        describe_outcome(question, t["outcome"]),
                        *describe_decryption(t),
                    ]
                )
            if res.get("counts") is None:
                return (
                    f"{head} (secret ballots: {res['ballots']} cast; only the final tally "
                    "decrypts the totals)"
                )
            return "\n".join(
                [
                    head + " (live counts, not final)",
                    *describe_counts(question, res["counts"], res["ballots"]),
                ]
            )

        out.result(res, human)

    run(as_json, body)


@dataclass(frozen=True)
class _Tallied:
    """A question's tally as the ledger holds it, and whether this run's own ``Tally`` was
    acknowledged (``already``: found TALLIED, or the ``Tally`` failed and the ledger shows it
    TALLIED anyway, e.g. the commit acknowledgement was lost)."""

    tally: dict[str, Any]
    tx: str
    block: int
    already: bool


def _recorded_tally(conn: Connection, qid: str) -> _Tallied | None:
    """The recorded tally if ``qid`` is TALLIED; None if not, or if the node cannot say."""
    try:
        if conn.evaluate("GetQuestion", qid)["state"] != "TALLIED":
            return None
        tally = conn.evaluate("GetTally", qid)
        return _Tallied(tally, tally["tx"], conn.committed_block(tally["tx"]), already=True)
    except Failure:
        return None


def _aggregate_shards(conn: Connection, qid: str, shards: int, batch: int, out: Output) -> int:
    """Aggregate every shard not yet done, ``batch`` ballots per transaction; how many ran."""
    transactions = 0
    for shard in range(shards):
        try:
            done = bool(conn.evaluate("GetAggregate", qid, str(shard))["done"])
        except Failure as f:
            if f.error != "NOT_FOUND":
                raise
            done = False
        while not done:
            step = conn.submit("Aggregate", qid, str(shard), str(batch))
            transactions += 1
            done = bool(step.result["done"])
            out.progress(
                f"shard {shard + 1}/{shards}: {step.result['ballots']} ballots"
                + (" (done)" if done else "")
            )
    return transactions


def _submit_tally(conn: Connection, qid: str) -> _Tallied:
    """Record the tally. When the ``Tally`` fails but the ledger shows the question TALLIED
    (its acknowledgement was lost, or another run's tally committed first), that tally."""
    try:
        final = conn.submit("Tally", qid)
    except Failure as f:
        recorded = _recorded_tally(conn, qid)
        if recorded is not None:
            return recorded
        if f.error != "NO_QUORUM":
            raise
        raise Failure(
            REFUSED,
            "NO_QUORUM",
            f"{qid}: every shard is aggregated; {f.message}",
            hint="at least k trustees post their partial decryptions (`mvote trustee "
            f"decrypt {qid} --trustee FILE`), then run `mvote tally {qid}` again",
            field=f.field,
        ) from None
    return _Tallied(final.result, final.transaction_id, final.block_number, already=False)


def tally(
    qid: Annotated[str, typer.Argument(help="Question id.")],
    close: Annotated[
        bool, typer.Option("--close", help="Close the question first if it is still open.")
    ] = False,
    batch: Annotated[
        int, typer.Option(min=1, max=5000, help="Ballots per Aggregate transaction.")
    ] = 1000,
    network: NetworkOpt = DEFAULT_NETWORK,
    node: NodeOpt = None,
    org: OrgOpt = None,
    identity: IdentityOpt = None,
    plaintext: PlaintextOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Aggregate every shard of a CLOSED question to its end, then record the tally. Run again
    on a TALLIED question (say, when the first run lost its acknowledgement), it shows the
    recorded tally."""

    def body(out: Output) -> None:
        transactions = 0
        with _admin(network, node, org, identity, plaintext) as conn:
            question = conn.evaluate("GetQuestion", qid)
            done = _recorded_tally(conn, qid) if question["state"] == "TALLIED" else None
            if done is None:
                if question["state"] == "OPEN" and close:
                    conn.submit("CloseQuestion", qid, "closed for the tally")
                    out.progress(f"closed {qid}")
                elif question["state"] == "OPEN":
                    fail(
                        f"qid: question {qid!r} is OPEN; it must be CLOSED to tally",
                        error="QUESTION_OPEN",
                        code=1,
                        hint=f"close it first (`mvote question close {qid}`) or pass --close",
                    )
                transactions = _aggregate_shards(conn, qid, question["shards"], batch, out)
                done = _submit_tally(conn, qid)
        t = done.tally
        status = (
            f"already TALLIED in block {done.block} (tx {done.tx}); the recorded result"
            if done.already
            else f"TALLIED in block {done.block}"
        )
        out.result(
            {
                "tally": t,
                "tx": done.tx,
                "block": done.block,
                "aggregate_transactions": transactions,
                "already_tallied": done.already,
            },
            lambda: "\n".join(
                [
                    f"{question['title']}  [{qid}]  {status}",
                    *describe_counts(question, t["counts"], t["ballots"]),
                    describe_outcome(question, t["outcome"]),
                    *describe_decryption(t),
                ]
            ),
        )

    run(as_json, body)


def export(
    out_file: Annotated[Path, typer.Argument(help="The chain file to write.")],
    network: NetworkOpt = DEFAULT_NETWORK,
    node: NodeOpt = None,
    org: OrgOpt = None,
    identity: IdentityOpt = None,
    plaintext: PlaintextOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Pull every committed block over Deliver into a chain file (Fabric's block file format),
    for `mvote-verify audit --chain FILE`."""

    def body(out: Output) -> None:
        with _client(network, node, org, identity, plaintext) as conn:
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

    run(as_json, body)
