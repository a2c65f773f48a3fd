"""One controller recording a run into a shared ledger, started several times at once by test_ledger_concurrency.

    python ledger_writer.py URL LABEL RUN_ID FIRST LAST GO_FILE

Writes GO_FILE.ready-PID once the ledger is open, waits for GO_FILE to appear (so that all start together),
then records an install and a successful activation of key LABEL on hosts host-FIRST .. host-LAST under run
RUN_ID, each in its own transaction.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from remediate.ledger.store import Ledger


def main(url: str, label: str, run_id: str, first: int, last: int, go: Path) -> None:
    with Ledger.open(url) as ledger:
        record = ledger.key(label)
        go.with_name(f"{go.name}.ready-{os.getpid()}").touch()
        deadline = time.monotonic() + 60
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        for number in range(first, last + 1):
            host = f"host-{number:03d}"
            ledger.record_install(record, host, run_id=run_id, ok=True)
            ledger.record_activation(record, host, run_id=run_id, ok=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), Path(sys.argv[6]))
