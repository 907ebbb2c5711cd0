"""Child process of the kill test: commit the block stream until killed or at the limit.

Usage: ledger_kill_child.py DIRECTORY LIMIT. Prints "open H" once the ledger is open (and
recovered), then each new height after ``commit`` returns, flushed, so the parent knows which
blocks were reported committed when it killed us.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ledger_support import stream_block

from mvote.node.ledger import Ledger


def main() -> None:
    directory, limit = Path(sys.argv[1]), int(sys.argv[2])
    ledger = Ledger.open(directory)
    print(f"open {ledger.height}", flush=True)
    while ledger.height < limit:
        ledger.commit(stream_block(ledger.height, ledger.last_hash))
        print(ledger.height, flush=True)
    ledger.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
