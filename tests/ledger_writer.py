"""One controller recording a run into a shared ledger, started several times at once by test_ledger_concurrency.

    python ledger_writer.py URL LABEL RUN_ID FIRST LAST GO_FILE [HOLD]

Writes GO_FILE.ready-PID once the ledger is open, waits for GO_FILE to appear (so that all start together),
then records an install and a successful activation of key LABEL on hosts host-FIRST .. host-LAST under run
RUN_ID, each in its own transaction. With HOLD, the run first checks the budget for that many activations and
holds them, as `remediate run` does; refused, it records nothing and exits 3.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from remediate.errors import UsageError
from remediate.ledger.budget import Reserve
from remediate.ledger.store import Ledger

REFUSED = 3


def main(url: str, label: str, run_id: str, first: int, last: int, go: Path, hold: int | None) -> int:
    with Ledger.open(url) as ledger:
        record = ledger.key(label)
        go.with_name(f"{go.name}.ready-{os.getpid()}").touch()
        deadline = time.monotonic() + 60
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        if hold is not None:
            try:
                ledger.check_budget(record, needed=hold, reserve=Reserve.parse("5%"), hold_for=run_id)
            except UsageError as refused:
                print(refused, file=sys.stderr)
                return REFUSED
        for number in range(first, last + 1):
            host = f"host-{number:03d}"
            ledger.record_install(record, host, run_id=run_id, ok=True)
            ledger.record_activation(record, host, run_id=run_id, ok=True)
        ledger.release(run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), Path(sys.argv[6]),
                  int(sys.argv[7]) if len(sys.argv) > 7 else None))
