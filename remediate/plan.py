"""The Plan: the rendered steps for every host, exactly as they will be sent.

A dry run prints a Plan; a live run executes one. Raw parameter values (product keys stay ProductKey, secrets
Secret) are for the transport only; everything a person or a file sees uses `display_parameters`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remediate.codes import ErrorCode
from remediate.playbook import Playbook, RetryPolicy, Text
from remediate.productkey import ProductKey, generic_default_edition

if TYPE_CHECKING:
    from remediate.inventory import Host


@dataclass(frozen=True)
class PlannedStep:
    id: str
    phase: str
    template: str
    description: Text
    script: str  # the exact text that will be sent
    script_sha256: str
    # PowerShell parameter name -> raw typed value, for the transport only (never printed).
    parameters: Mapping[str, Any] = field(repr=False)
    display_parameters: Mapping[str, str]  # the same names -> masked, printable text
    only_if: str | None = None  # run-time condition over earlier StepResults
    retry: RetryPolicy | None = None
    idempotent: bool = False
    timeout_s: float = 120.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "phase": self.phase,
            "template": self.template,
            "description": {"en": self.description.en, "ja": self.description.ja},
            "script_sha256": self.script_sha256,  # its text: the plan's `scripts`, shared by every host
            "parameters": dict(self.display_parameters),
            "only_if": self.only_if,
            "retry": self.retry.to_dict() if self.retry else None,
            "idempotent": self.idempotent,
            "timeout_s": self.timeout_s,
        }


@dataclass(frozen=True)
class SkippedStep:
    """A step left out at render time, and why."""

    id: str
    phase: str
    reason: str  # "when" (its condition is false) or "opt-in" (needs --allow)
    detail: str  # for people: "when: kms_host is false", "needs --allow edition-conversion"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "phase": self.phase, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True)
class HostPlan:
    host: Host
    label: str
    playbook: Playbook
    steps: tuple[PlannedStep, ...]
    skipped: tuple[SkippedStep, ...] = ()

    def steps_in(self, phase: str) -> list[PlannedStep]:
        return [step for step in self.steps if step.phase == phase]

    def fingerprint(self) -> tuple[Any, ...]:
        """Equal for two hosts whose plans read the same (same scripts, same displayed values)."""
        return (
            self.playbook.code,
            self.playbook.sha256,
            tuple(
                (s.id, s.script_sha256, tuple(sorted(s.display_parameters.items())), s.only_if)
                for s in self.steps
            ),
            tuple((s.id, s.detail) for s in self.skipped),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.label,
            "playbook": str(self.playbook.code),
            "steps": [step.to_dict() for step in self.steps],
            "skipped_steps": [step.to_dict() for step in self.skipped],
        }


@dataclass(frozen=True)
class Plan:
    code: ErrorCode  # the code the run was asked for
    playbook: Playbook
    hosts: tuple[HostPlan, ...]
    allow: frozenset[str] = frozenset()

    def warnings(self) -> list[str]:
        """What a person should know before this plan runs: a generic default key installs but never activates."""
        found: dict[str, list[str]] = {}
        for host_plan in self.hosts:
            for step in host_plan.steps:
                for value in step.parameters.values():
                    edition = generic_default_edition(value) if isinstance(value, ProductKey) else None
                    if edition is not None:
                        found.setdefault(f"{value} is the generic default key of {edition}", []).append(host_plan.label)
        return [f"{what}: it installs (it only selects the edition) but can never activate; hosts: "
                f"{', '.join(dict.fromkeys(labels))}" for what, labels in found.items()]

    def groups(self) -> list[list[HostPlan]]:
        """Hosts whose plans read the same, grouped in the order hosts were given."""
        grouped: dict[tuple[Any, ...], list[HostPlan]] = {}
        for host_plan in self.hosts:
            grouped.setdefault(host_plan.fingerprint(), []).append(host_plan)
        return list(grouped.values())

    def scripts(self) -> dict[str, str]:
        """Each distinct script once, by its sha256: hosts share their scripts (values are parameters, never
        text), so a plan's JSON names a step's script by its sha256 instead of repeating it per host."""
        return {step.script_sha256: step.script for host_plan in self.hosts for step in host_plan.steps}

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of a dry run: the scripts once, then every host's steps naming theirs by sha256.
        Parameter values are masked."""
        return {**self._head(), "hosts": [host_plan.to_dict() for host_plan in self.hosts]}

    def json_chunks(self) -> Iterator[str]:
        """to_dict as JSON text, a host at a time (a dry run of 10,000 hosts never holds all of it at once)."""
        head = json.dumps(self._head(), ensure_ascii=False, indent=2)
        yield head[: head.rindex("}")].rstrip() + ',\n  "hosts": ['
        for number, host_plan in enumerate(self.hosts):
            yield ("," if number else "") + "\n    " + json.dumps(host_plan.to_dict(), ensure_ascii=False)
        yield "\n  ]\n}\n"

    def _head(self) -> dict[str, Any]:
        return {
            "code": str(self.code),
            "playbook": {
                "code": str(self.playbook.code),
                "title": {"en": self.playbook.title.en, "ja": self.playbook.title.ja},
                "source": str(self.playbook.source),
                "sha256": self.playbook.sha256,
            },
            "allow": sorted(self.allow),
            "scripts": self.scripts(),
        }
