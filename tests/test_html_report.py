"""`--html FILE`: one self-contained page of a run, a dry run and `status`, checked as text here and loaded in
headless Chromium (Debian's `chromium`) for console errors and a screenshot that shows the verdict."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from remediate import html
from remediate.cli import main
from remediate.codes import ErrorCode
from remediate.i18n import in_language
from remediate.inventory import Host
from remediate.results import HostReport, Outcome, RunReport, StepRecord, StepResult, StepStatus
from remediate.secret import Redactor, Secret
from remediate.status import HostStatus

KEY = "NPPR9-FWDCX-D2C8J-H872K-2YT43"
PASSWORD = "hunter2-but-longer"
F074 = ErrorCode.parse("0xC004F074")
CHROMIUM = "/usr/bin/chromium"


def sample_run() -> RunReport:
    leaky = StepResult(ok=False, hresult=F074, output=f"key {KEY}")
    return RunReport(
        code="0xC004F074",
        duration_s=12.5,
        audit_path="remediate-audit/run.jsonl",
        hosts=[
            HostReport(host="pc1.corp.example", code="0xC004F074", outcome=Outcome.FIXED, code_before=F074,
                       reason="verified after the fix"),
            HostReport(host="pc2.corp.example", code="0xC004F074", outcome=Outcome.HEALTHY,
                       reason="every check passed: nothing to fix"),
            HostReport(host="pc3.corp.example", code="0xC004F074", outcome=Outcome.FAILED, code_before=F074,
                       code_after=F074, reason=f"verify sees 0xC004F074 after key {KEY} <script>alert(1)</script>",
                       steps=[StepRecord(id="activate", phase="fix", status=StepStatus.RAN, result=leaky,
                                         attempts=2, note=f"password {PASSWORD}")]),
            HostReport(host="127.0.0.1:9", code="0xC004F074", outcome=Outcome.UNREACHABLE,
                       reason="refused: the connection was refused"),
        ],
    )


def redactor() -> Redactor:
    return Redactor([Secret(PASSWORD)])


class Elements(HTMLParser):
    """The start tags of a page, with their attributes; fails on a tag left open where HTML does not allow it."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(page)
    return parser.tags


def assert_self_contained(page: str) -> None:
    for tag, attrs in elements(page):
        for name in ("src", "href", "action", "data"):
            value = attrs.get(name)
            assert value is None or value.startswith(("data:", "#")), (tag, name, value)
    assert "url(" not in page and "@import" not in page and "<script" not in page.lower().replace("&lt;script", "")
    assert "default-src 'none'" in page  # and the browser refuses any fetch the page might still try


def test_a_run_page_has_the_verdict_charts_the_hosts_pointed_at_and_every_host() -> None:
    page = html.render(html.run_page(sample_run(), redactor()))
    assert_self_contained(page)
    assert 'class="verdict bad" id="verdict">at least one host was not fixed<' in page
    assert page.count("<svg") == 2 and page.count("<rect") >= 6  # outcomes (4) and reasons (4)
    assert page.count("<details>") == 4
    attention = page.split("Hosts that need attention", 1)[1].split("Every host", 1)[0]
    assert "pc3.corp.example" in attention and "127.0.0.1:9" in attention and "pc1.corp" not in attention
    assert KEY not in page and "2YT43" in page and PASSWORD not in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_page_speaks_japanese() -> None:
    with in_language("ja"):
        page = html.render(html.run_page(sample_run(), redactor(), "ja"))
    assert '<html lang="ja">' in page and "修正できなかったホストがあります" in page and "対応が必要なホスト" in page
    for words in ("結果", "理由", "すべてのホスト", "修正済み", "失敗", "接続不可", "前のコード", "所要時間",
                  "監査ログ"):
        assert words in page, words
    for english in ("Outcomes", "Hosts that need attention", "Every host", "code before", "duration"):
        assert english not in page, english
    # what the hosts and the OS said stays as said: host names, codes, step ids
    assert "pc3.corp.example" in page and "127.0.0.1:9" in page and "0xC004F074" in page and "activate" in page


def test_a_status_page_in_japanese_names_states_the_way_windows_does() -> None:
    statuses = [
        HostStatus(Host("a.corp.example"), result=StepResult(ok=True, license_status=1)),
        HostStatus(Host("b.corp.example"), result=StepResult(ok=True, license_status=5, hresult=F074,
                                                             data={"grace_minutes": 1500})),
    ]
    with in_language("ja"):
        page = html.render(html.status_page(statuses))
    assert '<html lang="ja">' in page and "1 台のホストがライセンス認証されていません" in page
    assert "ライセンス認証済み" in page and "通知モード" in page and "ライセンス状態" in page
    assert "b.corp.example" in page and "0xC004F074" in page and "Notification" not in page


def test_a_status_page_names_each_hosts_state() -> None:
    licensed = StepResult(ok=True, license_status=1, data={"name": "Windows(R), ServerStandard edition"})
    grace = StepResult(ok=True, license_status=5, hresult=F074, data={"partial_product_key": "2YT43"})
    statuses = [
        HostStatus(Host("a.corp.example"), result=licensed),
        HostStatus(Host("b.corp.example"), result=grace),
        HostStatus(Host("c.corp.example"), error="refused: the connection was refused", unreachable=True),
    ]
    page = html.render(html.status_page(statuses))
    assert_self_contained(page)
    assert "2 host(s) are not licensed" in page and "ServerStandard" in page
    attention = page.split("Hosts that need attention", 1)[1].split("Every host", 1)[0]
    assert "b.corp.example" in attention and "c.corp.example" in attention and "a.corp.example" not in attention


def dry_run_page(tmp_path: Path, *options: str) -> tuple[str, str]:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("pc1.corp.example\npc2.corp.example\n", encoding="utf-8")
    page = tmp_path / "plan.html"
    result = CliRunner().invoke(
        main, ["run", "0xC004F050", "--hosts", str(hosts), "--secret-env", "product_key=NEW_KEY", "--dry-run",
               "--html", str(page), *options],
        env={"NEW_KEY": KEY}, catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert f"HTML report: {page}" in result.stderr
    return page.read_text(encoding="utf-8"), result.stdout


def test_a_dry_run_page_shows_every_script_with_its_parameters_masked(tmp_path: Path) -> None:
    page, shown = dry_run_page(tmp_path, "--save-plan", str(tmp_path / "plan.json"))
    assert_self_contained(page)
    assert "Dry run: nothing was sent to any host." in page and "saved plan" in page
    assert KEY not in page and "XXXXX-XXXXX-XXXXX-XXXXX-2YT43" in page
    scripts = re.findall(r"<pre>(.*?)</pre>", page, flags=re.DOTALL)
    assert scripts and all("param(" in script for script in scripts)
    assert "slmgr.vbs" in page and "pc1.corp.example, pc2.corp.example" in page
    assert "Plan: 0xC004F050" in shown  # the console still shows the plan


def chromium() -> str | None:
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed: .ci/run installs Debian's chromium for this test")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def load(page: Path, folder: Path) -> tuple[list[str], bytes, str]:
    """Open `page` in headless Chromium: its console messages, a 1280 x 1000 screenshot, the DOM it built."""
    browser = chromium()
    assert browser is not None
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr",
              "--v=0", "--window-size=1280,1000", f"--user-data-dir={folder / 'profile'}"]
    shot = folder / f"{page.stem}.png"
    taken = subprocess.run([*common, f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True,
                           timeout=120)
    assert taken.returncode == 0, taken.stderr
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    console = [line for line in (taken.stderr + dom.stderr).splitlines() if ":CONSOLE" in line]
    return console, shot.read_bytes(), dom.stdout


def top_pixels(png: bytes, rows: int) -> tuple[int, list[bytes]]:
    """Width and the first `rows` rows of an 8-bit RGB or RGBA PNG, unfiltered (RFC 2083), as bytes per row."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, data = 8, b""
    width = height = channels = 0
    while position < len(png):
        (length,) = struct.unpack(">I", png[position:position + 4])
        kind, body = png[position + 4:position + 8], png[position + 8:position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            data += body
        position += 12 + length
    raw = zlib.decompressobj().decompress(data, (width * channels + 1) * rows)
    stride, previous, result = width * channels, bytearray(width * channels), []
    for row in range(min(rows, height)):
        kind, line = raw[row * (stride + 1)], bytearray(raw[row * (stride + 1) + 1:(row + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                near = min((abs(guess - left), left), (abs(guess - up), up), (abs(guess - corner), corner),
                           key=lambda pair: pair[0])
                line[i] = (line[i] + near[1]) & 0xFF
        result.append(bytes(line))
        previous = line
    return channels, result


def has_colour(rows: list[bytes], channels: int, colour: tuple[int, int, int], tolerance: int = 30) -> int:
    count = 0
    for line in rows:
        for i in range(0, len(line), channels):
            if all(abs(line[i + k] - colour[k]) <= tolerance for k in range(3)):
                count += 1
    return count


@pytest.mark.slow
def test_every_page_loads_in_chromium_without_a_console_message_and_shows_its_verdict(tmp_path: Path) -> None:
    pages = {
        "run": html.write_page(html.run_page(sample_run(), redactor()), tmp_path / "run.html"),
        "status": html.write_page(html.status_page([HostStatus(Host("a"), error="refused: x", unreachable=True)]),
                                  tmp_path / "status.html"),
    }
    plan, _ = dry_run_page(tmp_path)
    pages["plan"] = tmp_path / "plan.html"
    assert plan
    for name, page in pages.items():
        console, png, dom = load(page, tmp_path)
        assert console == [], (name, console)
        assert 'id="verdict"' in dom and "<svg" in dom, name
        channels, rows = top_pixels(png, 200)
        assert len(rows) == 200 and len(rows[0]) == 1280 * channels
        if name == "run":  # the verdict, in the red of a run that failed, is in the top of the screenshot
            assert has_colour(rows, channels, (0xCF, 0x22, 0x2E)) > 200


@pytest.mark.slow
def test_the_console_check_would_see_an_error(tmp_path: Path) -> None:
    """The check above is not blind: a page that logs an error and fetches from the network is caught."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><title>x</title></head><body>'
                    '<script>console.error("boom")</script><img src="http://198.51.100.1/x.png"></body></html>',
                    encoding="utf-8")
    console, _, _ = load(page, tmp_path)
    assert any('"boom"' in line for line in console)
