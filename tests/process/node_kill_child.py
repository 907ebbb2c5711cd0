"""Child process of the node kill test: cast ballots through the embedded node until killed.

Usage: node_kill_child.py, then one line on stdin: NETWORK_DIR SPEC_JSON FIRST_VOTER THREADS.
The parent starts the next child while the current one runs, so that the imports are done by
the time the line comes.

Opens the node on the network directory (recovery happens in ``Ledger.open``), starts it, prints
``started HEIGHT``, then casts ballots of fresh voters (FIRST_VOTER, FIRST_VOTER + 1, ...) from
THREADS threads through ``endorse`` / ``submit`` / ``commit_status``. Every fifth ballot of a
thread is a double vote: two ballots of one voter endorsed on the same state and submitted back
to back, so the second commits as MVCC_READ_CONFLICT. After each commit it prints, flushed,

    receipt TX_ID BLOCK TX_INDEX CODE VOTER_HEX TRACKER

which is all the parent knows when it SIGKILLs us at a random instant.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from node_support import Client, voter_key

from mvote.node.runtime import Node

LOCK = threading.Lock()


def say(line: str) -> None:
    with LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def vote(client: Client, spec: dict[str, Any], voters: Any) -> None:
    try:
        cast_forever(client, spec, voters)
    except BaseException as exc:  # any failure is the test's failure: say it and stop at once
        say(f"error {type(exc).__name__}: {exc}")
        os._exit(3)


def cast_forever(client: Client, spec: dict[str, Any], voters: Any) -> None:
    node = client.node
    for n in itertools.count():
        index = next(voters)
        key = voter_key(index)
        voter = bytes(key.verify_key).hex()
        ballots = [client.endorsed("Cast", client.cast_args(spec, key, n % 3))]
        if n % 5 == 4:
            ballots.append(client.endorsed("Cast", client.cast_args(spec, key, (n + 1) % 3)))
        for _, envelope, _ in ballots:
            node.submit(envelope)
        for tx_id, _, payload in ballots:
            found = node.commit_status(tx_id, timeout=30)
            say(
                f"receipt {tx_id} {found.block} {found.tx} {found.code} {voter} "
                f"{payload['tracker']}"
            )


def main() -> None:
    words = sys.stdin.readline().split()
    if not words:
        return  # the parent is done with us
    directory, spec_path, first, threads = Path(words[0]), Path(words[1]), *map(int, words[2:])
    spec = json.loads(spec_path.read_text())
    node = Node.open(directory)
    node.start()
    say(f"started {node.ledger.height}")
    client = Client(node, node.material)
    voters = itertools.count(first)  # next() on a count is atomic under the GIL
    workers = [
        threading.Thread(target=vote, args=(client, spec, voters), daemon=True)
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


if __name__ == "__main__":
    main()
