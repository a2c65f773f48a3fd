"""The key ledger in a live run (engine.KeyWatcher).

Before any host is touched: for every product key the plan installs that the ledger knows, the hosts that will
need an activation are compared with the key's budget less the reserve; short, retired, exhausted or blocked,
the run is refused (UsageError, exit 2) with the numbers, and nothing is sent. During the run: every install
and activation the engine performs with such a key is recorded (host, time, run id, operator, result code), and
a host answering 0xC004C008, 0xC004C020 or 0xC004C003 marks the key exhausted or blocked, after which no further
host of the run gets it.

A key that is not in the ledger is installed as before, with a note; its uses are not recorded.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial

from remediate.codes import ErrorCode
from remediate.errors import UsageError
from remediate.i18n import N_, translated
from remediate.ledger.budget import Reserve
from remediate.ledger.location import in_use
from remediate.ledger.records import KeyRecord
from remediate.ledger.schema import BLOCKED
from remediate.ledger.store import ENDING_CODES, Ledger
from remediate.plan import HostPlan, PlannedStep
from remediate.productkey import ProductKey
from remediate.reasons import Localized, Reason
from remediate.results import StepResult

# Fix steps whose result is an activation of the key installed before them on the same host.
ACTIVATION_TEMPLATES = frozenset({"activate.ps1.j2"})

STATE_WORDS = {"exhausted": Localized(N_("used up")), BLOCKED: Localized(N_("blocked"))}

WORDS = {  # gettext messages, said in the run's language
    "unknown": N_(
        "note: key {key} is not in the ledger: its installs are not recorded and no budget is checked (remediate "
        "keys add LABEL --key-env VAR)"
    ),
    "budget": N_(
        "ledger: key {label} ({key}): {hosts} host(s) to activate; budget {budget} less a reserve of "
        "{reserve}{held}: {available} available"
    ),
    "no_budget": N_("ledger: key {label} ({key}): {hosts} host(s); no budget to count down"),
    "ended": N_("ledger: {host} answered {code}: key {label} ({key}) is {state}; no further host of this run gets it"),
    "held": N_(" and {count} held by runs in progress"),
    "failed": N_("warning: the ledger could not record {what}: {error}"),
    "install": N_("the install on {host}"),
    "activation": N_("the activation on {host}"),
    "state": N_("the key's state (from {host})"),
    "end": N_("the end of the run"),
    "run": N_("ledger: run {run_id} recorded in {ledger}"),
}

Say = Callable[[str], None]


@dataclass
class _Planned:
    """A key the plan installs, the hosts it goes to, and the ledger's record of it (None: not in the ledger)."""

    key: ProductKey
    hosts: list[str]
    record: KeyRecord | None = None


def keys_installed(host_plans: Sequence[HostPlan]) -> list[_Planned]:
    """Every product key among the plan's fix steps, with the hosts it goes to, in plan order."""
    found: dict[ProductKey, _Planned] = {}
    for host_plan in host_plans:
        for step in host_plan.steps_in("fix"):
            for key in _keys_of(step):
                planned = found.setdefault(key, _Planned(key, []))
                if host_plan.label not in planned.hosts:
                    planned.hosts.append(host_plan.label)
    return list(found.values())


def _keys_of(step: PlannedStep) -> list[ProductKey]:
    return [value for value in step.parameters.values() if isinstance(value, ProductKey)]


def new_run_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class RunKeyGuard:
    """The ledger's part in one run: the budget check (`prepare`), then engine.KeyWatcher."""

    def __init__(self, ledger: Ledger, run_id: str, planned: list[_Planned], say: Say, language: str) -> None:
        self.ledger = ledger
        self.run_id = run_id
        self._say = say
        self._language = language
        self._words = translated(WORDS, language)
        self._records = {planned_key.key: planned_key.record for planned_key in planned if planned_key.record}
        self._installed: dict[str, KeyRecord] = {}  # host -> the ledger key this run installed there
        self._ended: dict[int, tuple[str, str]] = {}  # key id -> (state, code)
        self._lock = threading.Lock()

    @classmethod
    def prepare(cls, host_plans: Sequence[HostPlan], *, ledger_url: str | None, reserve: Reserve, say: Say,
                language: str = "en") -> RunKeyGuard | None:
        """Open the ledger and check every key the plan installs (UsageError when one may not be used).

        None when the plan installs no key, or no ledger is set up (no --ledger, no REMEDIATE_LEDGER and no
        default ledger file yet: a run does not create one)."""
        planned = keys_installed(host_plans)
        if not planned:
            return None
        if not in_use(ledger_url):
            return None
        ledger = Ledger.open(ledger_url)
        words = translated(WORDS, language)
        run_id = new_run_id()
        try:
            for planned_key in planned:
                planned_key.record = ledger.find(planned_key.key)
                record = planned_key.record
                if record is None:
                    say(words["unknown"].format(key=planned_key.key.masked))
                    continue
                # Holds the activations for this run: a run started meanwhile sees them as spent.
                availability = ledger.check_budget(record, needed=len(planned_key.hosts), reserve=reserve,
                                                   hold_for=run_id)
                if availability is None:
                    say(words["no_budget"].format(label=record.label, key=record.masked,
                                                  hosts=len(planned_key.hosts)))
                else:
                    say(words["budget"].format(label=record.label, key=record.masked, hosts=len(planned_key.hosts),
                                               budget=availability.budget, reserve=availability.reserve,
                                               held=words["held"].format(count=availability.held)
                                               if availability.held else "",
                                               available=availability.available))
        except BaseException:
            ledger.release(run_id)  # a hold taken for an earlier key of this plan
            ledger.close()
            raise
        return cls(ledger, run_id, planned, say, language)

    def close(self) -> None:
        """The run ended: free what it held, and say under which run id the ledger has it."""
        self._safely("end", "", partial(self.ledger.release, self.run_id))
        self._say(self._words["run"].format(run_id=self.run_id, ledger=self.ledger.location.display))
        self.ledger.close()

    # --- engine.KeyWatcher ------------------------------------------------------------------------------------

    def hold(self, host: str, step: PlannedStep) -> Reason | None:
        for key in _keys_of(step):
            record = self._records.get(key)
            with self._lock:
                ended = self._ended.get(record.id) if record is not None else None
            if record is not None and ended is not None:
                state, code = ended
                return Reason("key_ended", key=record.masked, state=STATE_WORDS[state], code=code)
        return None

    def fix_done(self, host: str, step: PlannedStep, result: StepResult) -> None:
        code = result.hresult
        for key in _keys_of(step):
            record = self._records.get(key)
            if record is None:
                continue
            with self._lock:
                self._installed[host] = record
            self._safely("install", host, partial(self.ledger.record_install, record, host, run_id=self.run_id,
                                                  ok=result.ok, code=code))
            self._end_if_told(record, host, code)
        with self._lock:
            installed = self._installed.get(host)
        if step.template in ACTIVATION_TEMPLATES and installed is not None:
            self._safely("activation", host, partial(self.ledger.record_activation, installed, host,
                                                     run_id=self.run_id, ok=result.ok, code=code))
            self._end_if_told(installed, host, code)

    def _end_if_told(self, record: KeyRecord, host: str, code: ErrorCode | None) -> None:
        """An activation server's answer that ends the key: mark it in the ledger and hold it from now on."""
        state = ENDING_CODES.get(str(code)) if code is not None else None
        if state is None:
            return
        with self._lock:
            if record.id in self._ended:
                return
            self._ended[record.id] = (state, str(code))
        self._safely("state", host, partial(self.ledger.mark_exhausted, record, str(code)))
        self._say(self._words["ended"].format(host=host, code=code, label=record.label, key=record.masked,
                                              state=STATE_WORDS[state].render(self._language)))

    def _safely(self, what: str, host: str, write: Callable[[], object]) -> None:
        """A ledger that cannot be written does not stop the run: the host's change is already made."""
        try:
            write()
        except UsageError as error:
            self._say(self._words["failed"].format(what=self._words[what].format(host=host), error=error.message))
