"""The wheel carries playbooks, schema and templates, and works installed outside the source tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # No build isolation: the build backend (hatchling) is already installed, so nothing is downloaded.
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)])
    (built,) = out.glob("remediate-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_carries_playbooks_schema_and_templates(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "remediate/playbooks/playbook.schema.json",
        "remediate/playbooks/README.md",
        "remediate/templates/README.md",
        "remediate/locale/ja/LC_MESSAGES/remediate.mo",  # the Japanese messages, compiled
    }
    expected |= {f"remediate/playbooks/{p.name}" for p in (ROOT / "playbooks").glob("*.yaml")}
    expected |= {f"remediate/templates/{p.name}" for p in (ROOT / "templates").glob("*.ps1.j2")}
    assert expected <= names, sorted(expected - names)
    assert any(name.endswith(".ps1.j2") for name in names)
    assert "remediate/cli.py" in names


@pytest.mark.slow
def test_the_installed_wheel_lists_the_shipped_playbooks(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = Path(
        run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    # The dependencies come from the test environment (a path line, so its editable install is not picked up);
    # remediate itself only from the wheel.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", "utf-8")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            str(wheel),
        ]
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LANG", "LC_ALL")}
    where = run([str(python), "-c", "import remediate; print(remediate.__file__)"], cwd=tmp_path, env=env)
    assert where.stdout.strip().startswith(str(venv))
    listed = run([str(venv / "bin" / "remediate"), "list", "--output", "json"], cwd=tmp_path, env=env)
    codes = sorted(entry["code"] for entry in json.loads(listed.stdout))
    assert codes == sorted(p.stem for p in (ROOT / "playbooks").glob("*.yaml"))
    # The key ledger's migrations ship inside: a new ledger is built from them on first use.
    remediate = str(venv / "bin" / "remediate")
    ledger = {**env, "REMEDIATE_LEDGER": str(tmp_path / "ledger.sqlite"), "PRO_KEY": "W269N-WFGWX-YVC9B-4J6C9-T83GX"}
    run([remediate, "keys", "add", "pro", "--key-env", "PRO_KEY"], cwd=tmp_path, env=ledger)
    keys = run([remediate, "keys", "list", "--output", "json"], cwd=tmp_path, env=ledger)
    assert [entry["key"] for entry in json.loads(keys.stdout)] == ["XXXXX-XXXXX-XXXXX-XXXXX-T83GX"]
    # The compiled Japanese catalog ships inside: help and click's own words in Japanese.
    japanese = run([remediate, "list", "--help", "--lang", "ja"], cwd=tmp_path, env=env)
    assert "使い方: remediate list" in japanese.stdout and "このヘルプを表示して終了します。" in japanese.stdout
