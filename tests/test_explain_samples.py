"""explain on real text: Microsoft's pages and public threads in many languages, and logs of other components.

The samples, their sources and what must be found in them are in tests/data/explain/samples.yaml.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from remediate.codes import ErrorCode
from remediate.explain import ACTIVATION, COMPONENTS, CONTEXT, OTHER, scan

SAMPLES_FILE = Path(__file__).parent / "data" / "explain" / "samples.yaml"
SAMPLES: list[dict[str, Any]] = yaml.safe_load(SAMPLES_FILE.read_text("utf-8"))["samples"]


def _ids(samples: list[dict[str, Any]]) -> list[str]:
    return [sample["id"] for sample in samples]


def test_every_sample_is_cited_and_labelled() -> None:
    assert len(set(_ids(SAMPLES))) == len(SAMPLES)
    for sample in SAMPLES:
        assert re.match(r"https?://[^\s/]+\.[a-z]+[^\s]*$", sample["source"]), sample["id"]
        assert isinstance(sample["real"], bool), sample["id"]
        if not sample["real"]:
            assert sample["built_from"], sample["id"]  # a constructed text says what real text it follows


def test_real_samples_span_at_least_eight_languages_and_include_texts_without_activation_codes() -> None:
    real = [sample for sample in SAMPLES if sample["real"]]
    assert len({sample["language"] for sample in real}) >= 8
    without = [s for s in real if all(code["class"] != ACTIVATION for code in s["codes"])]
    assert len(without) >= 10
    assert {code.get("component") for s in without for code in s["codes"]} >= {
        "wsl", "servicing", "windows-update", "enrollment", "disk"
    }


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids(SAMPLES))
def test_each_code_is_found_and_classed(sample: dict[str, Any]) -> None:
    found = scan(sample["text"])
    assert [(f.code.text, f.kind, f.component) for f in found.findings] == [
        (code["code"], code["class"], code.get("component")) for code in sample["codes"]
    ]


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids(SAMPLES))
def test_the_words_that_decided_are_in_the_text(sample: dict[str, Any]) -> None:
    text = sample["text"]
    for finding in scan(text).findings:
        if finding.reason == CONTEXT:
            (word,) = finding.decided_by
            assert word.lower() in text.lower() or ErrorCode.parse(word) in scan(text).codes, (word, sample["id"])
        if finding.kind == OTHER:
            assert finding.component is None or finding.component in COMPONENTS


@pytest.mark.parametrize("sample", [s for s in SAMPLES if "typos" in s], ids=_ids([s for s in SAMPLES if "typos" in s]))
def test_typos_are_reported_with_the_codes_they_may_stand_for(sample: dict[str, Any]) -> None:
    found = scan(sample["text"])
    reported = {typo.typed: [code.text for code in typo.candidates] for typo in found.typos}
    for expected in sample["typos"]:
        assert expected["typed"] in reported, sample["id"]
        assert reported[expected["typed"]][: len(expected["candidates"])] == expected["candidates"]
    # A typo is never corrected silently: none of its candidates is reported as found.
    assert not {candidate for candidates in reported.values() for candidate in candidates} & {
        code.text for code in found.codes
    }
