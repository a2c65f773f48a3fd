"""Why a host ended as it did, as a value: a reason id from REASONS and its arguments, told in English or Japanese.

    why = Reason("step_failed", phase=phase_word("fix"), step="activate", code=Reason("code", code="0xC004F074"),
                 detail="")
    why.render("en")  # 'fix step activate did not succeed (0xC004F074)'
    why.render("ja")  # '修正ステップ activate が成功しませんでした (0xC004F074)'

The English text is what JSON, JUnit and the audit log keep (`HostReport.reason`); the summary tells the reason
in the user's language. An argument is plain text told as it is in both languages (a step id, an error code, a
message from the OS or the transport; the transport's kinds and known texts are told in the reader's language by
remediate/transport_text.py), a Reason of its own (an optional part, `""` when absent), or Localized
words. Each id's text is a gettext message (remediate/locale), translated when a reason is told.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any, Union

from remediate.i18n import N_, gettext_in
from remediate.transport_text import kind_word, tell

# id -> its text (a gettext message). The English texts are the reasons JSON, JUnit and the audit log carry.
REASONS: dict[str, str] = {
    # the engine's decision (remediate/engine.py)
    "healthy": N_("every check passed: nothing to fix"),
    "fixed": N_("verified after the fix"),
    "escalate_playbook": N_("no script can fix this code: a human must act{facts}"),
    "escalate_code": N_("{code} needs a human{facts}"),
    "facts_incomplete": N_(" (the facts for a human could not all be collected: {reason})"),
    "step_failed": N_("{phase} step {step} did not succeed{code}{detail}{facts}"),
    "code": N_(" ({code})"),  # an optional error code after a sentence
    "detail": N_(": {detail}"),  # an optional transport note after a sentence
    "verify_failed": N_("verify did not pass{facts}"),
    # Ctrl-C (the first lets steps in flight finish; a second abandons them)
    "interrupted_detect": N_("interrupted during detect: nothing was changed"),
    "interrupted_before_fix": N_("interrupted before fix step {step}: not verified"),
    "interrupted_before_verify": N_("interrupted after fixing, before verify: not verified"),
    "interrupted_verify": N_("interrupted during verify: not verified"),
    "abandoned_connecting": N_("abandoned while connecting: nothing was changed"),
    "abandoned_changed": N_("abandoned during {phase} step {step}: changes may have happened, not verified"),
    "abandoned_unchanged": N_("abandoned during {phase} step {step}: nothing was changed"),
    "abandoned_after_change": N_("abandoned after a change, between steps: not verified"),
    "abandoned_between_steps": N_("abandoned between steps: nothing was changed"),
    "deadline": N_("deadline: no outcome within {limit} (--host-timeout){changed}"),
    "deadline_changed": N_("; a change was in flight or made: state unknown"),
    "auth_failed": N_("authentication refused: {message}"),
    "not_started_auth": N_(
        "not started: {count} host(s) refused the credentials (--max-auth-failures): the account may be "
        "locked out if more are tried"
    ),
    "key_ended": N_(
        "key {key} not installed: it is {state} (an activation server answered {code} earlier in this run)"
    ),
    "other_playbook": N_(
        "detection found {found}, which is not this playbook's to fix: run `{command}` for it (--force acts "
        "anyway); nothing was changed"
    ),
    "not_started_interrupted": N_("not started: the run was interrupted"),
    "not_started_max_fail": N_("not started: --max-fail-percent was reached"),
    # transport faults during a step ({note} is "kind: message", as the transport wrote it)
    "transport_fix_not_retried": N_("transport fault during fix step {step} ({note}); not retried: state unknown"),
    "transport_after_change": N_("lost the host after a change, at {step}: {note}"),
    "connect_failed": N_("{kind}: {message}"),
    "transport_unreachable": N_("{step}: {note}"),
    "internal_error": N_("internal error: {kind}: {message}"),
    # a dispatched run: what the controller decides for a host its worker did not finish (remediate/dispatch)
    "worker_lost_changed": N_(
        "its worker (site {site}) was lost after a change was sent ({step}): state unknown, not run again; "
        "--rerun-failed detects it again before changing anything"
    ),
    "worker_lost_unchanged": N_(
        "its worker (site {site}) was lost before any change was sent: nothing was changed, not run again"
    ),
    "worker_refused": N_("the worker of site {site} could not run it: {message}; nothing was changed"),
    "abandoned_remote": N_("abandoned while its worker (site {site}) ran it: no change had been sent"),
    # run auto's choice before any playbook runs (remediate/status.py)
    "licensed": N_("licensed: nothing to fix"),
    "licensed_evaluation": N_(
        "licensed evaluation edition: it ends in {days} day(s); convert it before then (playbook {code}, "
        "{opt_in})"
    ),
    "status_unreachable": N_("{error}"),
    "status_unreachable_unknown": N_("unreachable"),
    "no_code": N_("not licensed ({state}) and no error code to choose a playbook{detail}"),
    "status_not_read": N_("not read: interrupted"),
    "status_script": N_("script: {error}"),
    "office_not_handled": N_(
        "Office: not handled — Windows is licensed, Office is not ({detail}); remediate's playbooks change "
        "Windows' licence only: on the host run cscript ospp.vbs /dstatus, then /act (for KMS, /sethst:<KMS host> "
        "first)"
    ),
    "kms_host_too_old": N_(
        "the KMS host is too old for this client: {detail} (a change on the KMS host: install a host key of a newer "
        "CSVLK group and its updates, then activate the clients again)"
    ),
    "no_playbook": N_("no playbook for {code}: {meaning}"),
    "look": N_("a human must look"),
}


@dataclass(frozen=True)
class Localized:
    """Words that differ by language, given as an argument: a code's meaning in both languages (from the table of
    codes), or a message of the catalog (`ja` None: a phase name, a licence state), translated when told."""

    en: str
    ja: str | None = None

    def render(self, language: str) -> str:
        if self.ja is not None:
            return self.ja if language == "ja" and self.ja else self.en
        return gettext_in(language, self.en)


Argument = Union[str, "Reason", Localized]

PHASES = {phase: Localized(phase) for phase in (N_("detect"), N_("fix"), N_("verify"), N_("escalate"))}


def phase_word(phase: str) -> Localized:
    return PHASES.get(phase, Localized(phase, phase))


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@dataclass(frozen=True)
class Reason:
    """One reason: an id of REASONS and the arguments its texts name."""

    id: str
    args: dict[str, Argument]

    def __init__(self, id: str, **args: Argument) -> None:
        if id not in REASONS:
            raise KeyError(f"no reason {id!r}")
        wanted = placeholders(REASONS[id])
        if set(args) != wanted:
            raise TypeError(f"reason {id!r} takes {sorted(wanted)}, not {sorted(args)}")
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "args", dict(args))

    def __hash__(self) -> int:
        return hash((self.id, tuple(sorted((name, str(value)) for name, value in self.args.items()))))

    def render(self, language: str = "en") -> str:
        template = gettext_in(language, REASONS[self.id])
        return template.format_map({name: _render(name, value, language) for name, value in self.args.items()})

    def __str__(self) -> str:
        return self.render("en")

    def to_dict(self) -> dict[str, Any]:
        """For machines: the id and the arguments (nested reasons as their own dicts, words in English)."""
        return {"id": self.id, "args": {name: _plain(value) for name, value in self.args.items()}}


def _render(name: str, value: Argument, language: str) -> str:
    """An argument in `language`: plain text as written, except the transport's kinds and known error texts."""
    if isinstance(value, str):
        return kind_word(value, language) if name == "kind" else tell(value, language)
    return value.render(language)


def _plain(value: Argument) -> Any:
    if isinstance(value, Reason):
        return value.to_dict()
    if isinstance(value, Localized):
        return value.en
    return value
