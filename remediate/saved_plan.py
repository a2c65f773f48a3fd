"""The SavedPlan: a Plan as a change board approved it, written to a file and checked again before it runs.

    saved = SavedPlan.from_plan(plan, hosts_file)           # `run CODE --dry-run --save-plan PLAN.json`
    saved.write(path)
    saved = SavedPlan.load(path)                             # `run --plan PLAN.json`: refuses an edited file
    saved.check(current_plan)                                # StalePlanError listing every difference

    request = run_request(code, allow, dry_run=..., save_plan=..., plan_file=...)   # `run`'s rules for plans
    playbook = request.playbook(library)                     # the code's playbook, every --allow known

The file holds every script in full (each distinct script once: hosts share them) and the masked parameter
values a person reads, and for every value a
digest so that a changed value is found without the value being in the file. `run --plan` renders the plan again
and compares each script's TEXT with the file's byte for byte (hashes are derived from the text, never taken
from the file), so what runs is exactly the text that was approved.

Anyone who can write the file can also make a new plan, so the plan's own sha256 only catches accidents. What
holds against an insider is approval by signature: `remediate plan approve PLAN --key KEY` adds an approver's
SSH signature of the plan's content (approvals.py); `run --plan PLAN --allowed-signers FILE --min-approvals N`
refuses a plan without N valid signatures of allowed signers, and a plan past its expiry (`--expires`).

Digests are keyed by a random salt of the file: no table of digests made beforehand fits it, and equal values in
two plans do not look equal.
Secret values (product keys, secret strings) are digested with scrypt, so that guessing a weak secret from the
file costs a memory-hard hash per guess; a product key has about 2^114 possible values and cannot be guessed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from remediate import __version__
from remediate.approvals import Approver, check, load_allowed_signers
from remediate.codes import ErrorCode
from remediate.errors import StalePlanError, UsageError
from remediate.i18n import _
from remediate.plan import HostPlan, Plan, PlannedStep
from remediate.playbook import Playbook, PlaybookLibrary, check_opt_ins
from remediate.productkey import ProductKey
from remediate.secret import Secret

FORMAT = "remediate-plan/2"  # 2: each script once, in `scripts`; steps name theirs by sha256

# scrypt cost of a secret value's digest (about 16 MiB and tens of milliseconds per value).
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def value_digest(value: Any, salt: bytes) -> str:
    """A digest of one raw parameter value that does not reveal it. Secrets go through scrypt."""
    if isinstance(value, (Secret, ProductKey)):
        material = f"{type(value).__name__}:{value.reveal()}".encode()
        return "scrypt:" + hashlib.scrypt(material, salt=salt, dklen=32, **_SCRYPT).hex()
    material = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return "hmac-sha256:" + hmac.new(salt, material, hashlib.sha256).hexdigest()


def signed_content(content: Mapping[str, Any]) -> bytes:
    """What an approver signs: the canonical JSON of a plan file's content, without its own `sha256` and the
    approvals (signatures are added one by one, after the plan is made)."""
    body = {key: value for key, value in content.items() if key not in ("sha256", "approvals")}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def content_sha256(content: Mapping[str, Any]) -> str:
    """The sha256 of a plan's signed content."""
    return hashlib.sha256(signed_content(content)).hexdigest()


def _host_transport(host_plan: HostPlan) -> dict[str, str]:
    """The host's own transport variables, and the address an inventory gives an alias: a host moved to another
    scheme, CA or address is not the approved host."""
    host = host_plan.host
    transport: dict[str, str] = {name: host.variables[name] for name in ("scheme", "auth", "ca_file")
                                 if name in host.variables}
    if host.connect_address is not None:  # the label is the alias alone
        transport["address"] = host.connect_address + (f" port {host.port}" if host.port is not None else "")
    return transport


def _host_content(host_plan: HostPlan, salt: bytes, memo: dict[Any, str]) -> dict[str, Any]:
    """One host's part of the file. memo: digests already made in this plan (one scrypt per distinct secret)."""

    def digest(value: Any) -> str:
        if not isinstance(value, (Secret, ProductKey)):
            return value_digest(value, salt)
        if value not in memo:  # Secret and ProductKey compare and hash by value
            memo[value] = value_digest(value, salt)
        return memo[value]

    return {
        "host": host_plan.label,
        "playbook": str(host_plan.playbook.code),
        "playbook_sha256": host_plan.playbook.sha256,
        "transport": _host_transport(host_plan),
        "steps": [  # how each step runs is in the plan's `steps`, its text in `scripts`: the hosts share them
            {
                "id": step.id,
                "script_sha256": step.script_sha256,
                "parameters": dict(step.display_parameters),
                "digests": {name: digest(value) for name, value in step.parameters.items()},
            }
            for step in host_plan.steps
        ],
        "skipped_steps": [step.to_dict() for step in host_plan.skipped],
    }


@dataclass(frozen=True)
class SavedPlan:
    """The content of a plan file (see the module's docstring). `file_sha256`: of the file's bytes, once read."""

    content: Mapping[str, Any]
    file_sha256: str | None = None

    @classmethod
    def from_plan(cls, plan: Plan, hosts_file: Path | None = None, expires_s: float | None = None) -> SavedPlan:
        """expires_s: the plan may run for this long from now (`--expires 72h`); None: no expiry."""
        salt = os.urandom(16)
        now = datetime.now(timezone.utc)
        memo: dict[Any, str] = {}
        content: dict[str, Any] = {
            "format": FORMAT,
            "created": _utc(now),
            "expires": _utc(now + timedelta(seconds=expires_s)) if expires_s else None,
            "remediate_version": __version__,
            "code": str(plan.code),
            "playbook": {
                "code": str(plan.playbook.code),
                "source": str(plan.playbook.source),
                "sha256": plan.playbook.sha256,
            },
            "allow": sorted(plan.allow),
            "hosts_file": str(hosts_file) if hosts_file is not None else None,
            "salt": salt.hex(),
            "scripts": plan.scripts(),
            "steps": _step_table(plan),
            "hosts": [_host_content(host_plan, salt, memo) for host_plan in plan.hosts],
        }
        content["sha256"] = content_sha256(content)
        return cls(content)

    @property
    def code(self) -> str:
        return str(self.content["code"])

    @property
    def signatures(self) -> list[str]:
        return [str(entry.get("signature")) for entry in self.content.get("approvals") or []
                if isinstance(entry, Mapping)]

    def approved_by(self, signature: str) -> SavedPlan:
        """This plan with one more approval (an armored SSH signature of its signed content)."""
        entry = {"signature": signature, "added": _utc(datetime.now(timezone.utc))}
        return SavedPlan({**self.content, "approvals": [*(self.content.get("approvals") or []), entry]})

    def check_expiry(self, now: datetime | None = None) -> None:
        """StalePlanError when the plan's approval window has passed."""
        expires = self.content.get("expires")
        if not expires:
            return
        try:
            when = datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
        except ValueError:
            raise StalePlanError(_("the plan's expiry {expires!r} is not a time").format(expires=expires)) from None
        if (now or datetime.now(timezone.utc)) >= when:
            raise StalePlanError(_("the plan expired at {expires}: it may no longer run").format(expires=expires),
                                 hint=_("save the plan again with --dry-run --save-plan and have it approved"))

    @property
    def allow(self) -> list[str]:
        return [str(item) for item in self.content.get("allow") or []]

    def write(self, path: Path) -> str:
        """Write the file (owner-only), a host to a line, and return the sha256 of its bytes."""
        digest = hashlib.sha256()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                for chunk in self._json_chunks():
                    data = chunk.encode("utf-8")
                    digest.update(data)
                    file.write(data)
        except OSError as error:
            raise UsageError(_("cannot write the plan file {path}: {value}").format(
                path=path, value=error.strerror or error)) from None
        return digest.hexdigest()

    def _json_chunks(self) -> Iterator[str]:
        """The content as JSON: what a person reads first indented, then the hosts one to a line."""
        head = {key: value for key, value in self.content.items() if key != "hosts"}
        text = json.dumps(head, ensure_ascii=False, indent=2)
        yield text[: text.rindex("}")].rstrip() + ',\n  "hosts": ['
        for number, host in enumerate(self.content.get("hosts") or []):
            yield ("," if number else "") + "\n    " + json.dumps(host, ensure_ascii=False)
        yield "\n  ]\n}\n"

    @classmethod
    def load(cls, path: Path) -> SavedPlan:
        """Read a plan file; StalePlanError when its content no longer matches the sha256 it was saved with."""
        try:
            data = path.read_bytes()
        except OSError as error:
            raise UsageError(_("cannot read the plan file {path}: {value}").format(
                path=path, value=error.strerror or error)) from None
        try:
            content = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise StalePlanError(_("the plan file {path} is not a saved plan: {error}").format(
                path=path, error=error)) from None
        if isinstance(content, dict) and content.get("format") == "remediate-plan/1":
            raise StalePlanError(_("the plan file {path} was saved by an earlier remediate (format "
                                   "remediate-plan/1)").format(path=path),
                                 hint=_("save the plan again with --dry-run --save-plan and have it approved"))
        if not isinstance(content, dict) or content.get("format") != FORMAT:
            raise StalePlanError(_("the plan file {path} is not a saved plan (format {FORMAT} expected)").format(
                path=path, FORMAT=FORMAT))
        if content.get("sha256") != content_sha256(content):
            raise StalePlanError(
                _("the plan file {path} was edited after it was saved (its content no longer matches its "
                  "sha256)").format(path=path),
                hint=_("save the plan again with --dry-run --save-plan and have it approved"),
            )
        return cls(content, hashlib.sha256(data).hexdigest())

    def differences(self, plan: Plan) -> list[str]:
        """What differs between this approved plan and `plan` rendered now; empty when they are the same."""
        found: list[str] = []
        saved = self.content
        if saved["code"] != str(plan.code):
            found.append(_("error code: approved {code}, now {code2}").format(code=saved['code'], code2=plan.code))
        if saved["playbook"]["sha256"] != plan.playbook.sha256:
            found.append(_("playbook {code}: its file changed ({source})").format(
                code=plan.playbook.code, source=plan.playbook.source))
        if sorted(saved.get("allow") or []) != sorted(plan.allow):
            found.append(f"opt-ins: approved {saved.get('allow') or 'none'}, now {sorted(plan.allow) or 'none'}")
        salt = bytes.fromhex(saved["salt"])
        approved = {entry["host"]: entry for entry in saved["hosts"]}
        memo: dict[Any, str] = {}
        current = {host_plan.label: _host_content(host_plan, salt, memo) for host_plan in plan.hosts}
        for label in approved.keys() - current.keys():
            found.append(_("host {label}: approved but not in the hosts file now").format(label=label))
        for label in current.keys() - approved.keys():
            found.append(_("host {label}: in the hosts file now but not in the approved plan").format(label=label))
        shared = Shared(saved["scripts"], saved["steps"], plan.scripts(), _step_table(plan))
        for label in [entry["host"] for entry in saved["hosts"] if entry["host"] in current]:
            found.extend(f"host {label}: {difference}"
                         for difference in _host_differences(approved[label], current[label], shared))
        return found

    def check(self, plan: Plan) -> None:
        """Raise StalePlanError naming every difference between the approved plan and `plan`."""
        try:
            found = self.differences(plan)
        except (KeyError, TypeError, ValueError, AttributeError) as error:  # a well-formed hash over bad content
            raise StalePlanError(_("the plan file is not a saved plan this version reads ({error!r})").format(
                error=error)) from None
        if found:
            listed = "\n".join(f"  {line}" for line in found)
            raise StalePlanError(
                _("the plan no longer matches what was approved ({count} difference(s)):\n{listed}").format(
                    count=len(found), listed=listed),
                hint=_("nothing was touched; save the plan again with --dry-run --save-plan and have it "
                       "approved"),
            )


def _behaviour(step: PlannedStep) -> dict[str, Any]:
    """How the engine runs a step besides its text: a changed retry or idempotence is a changed plan too."""
    return {
        "only_if": step.only_if,
        "idempotent": step.idempotent,
        "retry": step.retry.to_dict() if step.retry else None,
        "timeout_s": step.timeout_s,
    }


def _step_table(plan: Plan) -> dict[str, dict[str, Any]]:
    """How each of the plan's steps runs besides its text (the same on every host): step id -> its phase,
    template and behaviour."""
    return {step.id: {"phase": step.phase, "template": step.template, "behaviour": _behaviour(step)}
            for host_plan in plan.hosts for step in host_plan.steps}


@dataclass(frozen=True)
class Shared:
    """What a plan's hosts share, approved and rendered now: scripts by sha256, steps by id."""

    approved_scripts: Mapping[str, str]
    approved_steps: Mapping[str, Mapping[str, Any]]
    scripts: Mapping[str, str]
    steps: Mapping[str, Mapping[str, Any]]


def _host_differences(approved: Mapping[str, Any], current: Mapping[str, Any], shared: Shared) -> list[str]:
    found: list[str] = []
    if approved["playbook_sha256"] != current["playbook_sha256"]:
        found.append(f"playbook {current['playbook']} changed")
    if approved["transport"] != current["transport"]:
        found.append(_("transport variables: approved {transport}, now {transport2}").format(
            transport=approved['transport'], transport2=current['transport']))
    before = [step["id"] for step in approved["steps"]]
    after = [step["id"] for step in current["steps"]]
    added = [step for step in after if step not in before]
    dropped = [step for step in before if step not in after]
    if added:
        found.append(_("steps planned now that were not approved: {value}").format(value=', '.join(added)))
    if dropped:
        found.append(_("approved steps no longer planned: {value}").format(value=', '.join(dropped)))
    if not added and not dropped and before != after:
        found.append(_("steps in another order: approved {value}; now {value2}").format(
            value=', '.join(before), value2=', '.join(after)))
    now_steps = {step["id"]: step for step in current["steps"]}
    for step in approved["steps"]:
        now = now_steps.get(step["id"])
        if now is None:
            continue
        where = f"step {step['id']}"
        was, runs = shared.approved_steps.get(step["id"], {}), shared.steps[step["id"]]
        # The text itself, byte for byte: a hash in the file only says where its text is, and is not evidence.
        if shared.approved_scripts.get(step.get("script_sha256")) != shared.scripts[now["script_sha256"]]:
            found.append(f"{where}: script changed (template {runs['template']})")
        if was.get("phase") != runs["phase"] or was.get("behaviour") != runs["behaviour"]:
            found.append(_("{where}: how it runs changed: approved {was_phase} {was_behaviour}, now {phase} "
                           "{behaviour}").format(where=where, was_phase=was.get("phase"),
                                                 was_behaviour=was.get("behaviour"), phase=runs["phase"],
                                                 behaviour=runs["behaviour"]))
        for name in sorted(step["digests"].keys() | now["digests"].keys()):
            before, after = step["digests"].get(name), now["digests"].get(name)
            if before == after:
                continue
            shown_before = step["parameters"].get(name, "(not given)")
            shown_after = now["parameters"].get(name, "(not given)")
            if before is not None and after is not None and shown_before == shown_after:
                found.append(f"{where}: parameter {name} changed (shown as {shown_after})")
            else:
                found.append(f"{where}: parameter {name}: approved {shown_before}, now {shown_after}")
    return found


# --- what `run` may do with plans ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRequest:
    """What `run` was asked for, once its plan options agree: the error code (or auto), the opt-ins, and the
    approved plan the run must match (`--plan`). With --plan, the code and opt-ins are the plan's."""

    code: str
    allow: tuple[str, ...]
    approved: SavedPlan | None = None
    approvers: tuple[Approver, ...] = ()  # the valid signatures checked against --allowed-signers

    @property
    def auto(self) -> bool:
        """`run auto`: each host's playbook is picked from a live detect."""
        return _is_auto(self.code)

    @property
    def error_code(self) -> ErrorCode:
        return ErrorCode.parse(self.code)

    @property
    def plan_sha256(self) -> str | None:
        """The sha256 of the approved plan file, for the audit log; None without --plan."""
        return self.approved.file_sha256 if self.approved is not None else None

    def playbook(self, library: PlaybookLibrary) -> Playbook:
        """The playbook of the code; UsageError for an unknown code or an --allow no playbook step needs."""
        playbook = library.get(self.error_code)
        check_opt_ins(library, self.allow)
        return playbook

    def check(self, plan: Plan) -> None:
        """With --plan: StalePlanError unless `plan`, rendered now, is the approved one (before any connection)."""
        if self.approved is not None:
            self.approved.check(plan)


def run_request(
    code: str | None,
    allow: Sequence[str],
    *,
    dry_run: bool,
    save_plan: Path | None,
    plan_file: Path | None,
    allowed_signers: Path | None = None,
    min_approvals: int | None = None,
    expires_s: float | None = None,
) -> RunRequest:
    """Check `run`'s code, --allow, --dry-run, --save-plan, --plan, --expires, --allowed-signers and
    --min-approvals together; load the approved plan and check its expiry and signatures.

    Raises UsageError naming what does not go together, StalePlanError for an edited, expired or not (enough)
    approved plan file.
    """
    if expires_s is not None and save_plan is None:
        raise UsageError(_("--expires sets how long a saved plan may run: add --dry-run --save-plan PLAN.json"))
    if (allowed_signers is not None or min_approvals is not None) and plan_file is None:
        raise UsageError(_("--allowed-signers and --min-approvals check a saved plan's approvals: add --plan "
                           "PLAN.json"))
    if min_approvals is not None and allowed_signers is None:
        raise UsageError(_("--min-approvals needs --allowed-signers FILE: who may approve"))
    if save_plan is not None and not dry_run:
        raise UsageError(_("--save-plan writes the plan of a dry run: add --dry-run"))
    if save_plan is not None and plan_file is not None:
        raise UsageError(_("--save-plan and --plan do not go together: save a plan, or run a saved one"))
    approved = None
    if plan_file is not None:
        if code is not None and _is_auto(code):
            raise UsageError(
                _("auto picks each host's playbook from a live detect, so it has no plan to approve; run "
                  "--plan with the plan's error code (or no code)")
            )
        approved = SavedPlan.load(plan_file)
        if code is not None and ErrorCode.parse(code) != ErrorCode.parse(approved.code):
            raise UsageError(_("{plan_file} is a plan for {code}, not {code2}").format(
                plan_file=plan_file, code=approved.code, code2=code))
        if allow and sorted(set(allow)) != sorted(approved.allow):
            raise UsageError(_("--allow: {plan_file} was approved with {value}; leave --allow out to use the "
                               "plan's").format(plan_file=plan_file, value=', '.join(approved.allow) or 'no opt-in'))
        code, allow = approved.code, approved.allow
        approved.check_expiry()
        if allowed_signers is not None:
            signers = load_allowed_signers(allowed_signers)
            approvers = check(signed_content(approved.content), approved.signatures, signers,
                              minimum=1 if min_approvals is None else min_approvals)
            return RunRequest(str(code), tuple(allow), approved, tuple(approvers))
    if code is None:
        raise UsageError(_("give the error code (or auto), or --plan PLAN.json"))
    if _is_auto(code) and save_plan is not None:
        raise UsageError(
            _("auto picks each host's playbook from a live detect, so its preview cannot be saved for "
              "approval; save the plan of each error code's run instead")
        )
    return RunRequest(code, tuple(allow), approved)


def _is_auto(code: str) -> bool:
    return code.strip().lower() == "auto"


def _utc(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
