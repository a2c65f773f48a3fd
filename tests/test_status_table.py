"""The `remediate status` table says why a host is handed over, not only its code: Office not licensed, a Client
Machine ID shared with other hosts, the KMS host too old for the client, in English and in Japanese."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from remediate.diagnosis import name_playbooks
from remediate.i18n import in_language
from remediate.inventory import Host
from remediate.playbook import PlaybookLibrary
from remediate.results import StepResult
from remediate.status import HostStatus
from remediate.status_view import print_status

LIBRARY = PlaybookLibrary(())
CLONED = "5d1c3c63-3f43-4c4b-9e2a-0e8b1b7a6f10"


def read(host: str, license_status: int, **data: Any) -> HostStatus:
    facts: dict[str, Any] = {"product_found": True, "kms_client": False, "evaluation": False, **data}
    return HostStatus(Host(host), result=StepResult(ok=license_status == 1, license_status=license_status, data=facts))


def fleet() -> list[HostStatus]:
    """A KMS host with a Server 2019 key, a Windows 11 client that asked it, two clones, an Office-only host."""
    kms = read("kms02.corp.example", 1, computer_name="KMS02", service_version="10.0.17763.1",
               description="Windows(R) Operating System, VOLUME_KMS_WS19 channel")
    client = read("pc1.corp.example", 2, kms_client=True, license_status_reason="0x4004F00C",
                  last_activation_error="0xC004F042", name="Windows(R), Enterprise edition",
                  service_version="10.0.22631.1", kms_request_server="kms02.corp.example:1688")
    clones = [read(f"clone{n}.corp.example", 5, kms_client=True, license_status_reason="0xC004F056",
                   last_activation_error="0xC004F038", client_machine_id=CLONED) for n in (1, 2)]
    office = read("pc9.corp.example", 1, office=[{"name": "Office 19, Office19ProPlus2019VL_KMS_Client_AE edition",
                                                  "license_status": 5}],
                  office_last_activation_error="0xC004F074")
    statuses = [kms, client, *clones, office]
    name_playbooks(statuses, LIBRARY.find)
    return statuses


def table(statuses: list[HostStatus], language: str, width: int = 400) -> dict[str, str]:
    """The printed table, each host's row (its lines joined) by its host name."""
    buffer = io.StringIO()
    with in_language(language):
        print_status(statuses, Console(file=buffer, width=width, color_system=None))
    rows: dict[str, str] = {}
    current = ""
    for line in buffer.getvalue().splitlines():
        cells = [cell.strip() for cell in line.strip("│┃ ").split("│")]
        if cells[0] in {status.host.label for status in statuses}:
            current = cells[0]
        if current and "│" in line:
            rows[current] = rows.get(current, "") + " " + " ".join(cells)
    return rows


def test_the_table_names_the_kms_host_too_old_the_clones_and_office_in_english() -> None:
    statuses = fleet()
    rows = table(statuses, "en")
    too_old = rows["pc1.corp.example"]
    assert "KMS02 (kms02.corp.example:1688)" in too_old and "Windows 10.0.17763.1" in too_old
    assert "Windows Server 2019" in too_old and "build 22631" in too_old and "update the KMS host key" in too_old
    assert statuses[1].playbook is None  # handed over: the note is all the row has to say why
    assert "shares its Client Machine ID with clone2.corp.example" in rows["clone1.corp.example"]
    assert "clone1.corp.example" in rows["clone2.corp.example"] and "sysprep /generalize" in rows["clone2.corp.example"]
    assert "0xC004F038" in rows["clone1.corp.example"]  # the code and its playbook stay beside the note
    assert "Office not licensed" in rows["pc9.corp.example"] and "ospp.vbs" in rows["pc9.corp.example"]
    assert "Client Machine ID" not in rows["kms02.corp.example"] + rows["pc9.corp.example"]
    assert "KMS host" not in rows["kms02.corp.example"] + rows["pc9.corp.example"]


def test_the_table_s_notes_are_in_japanese() -> None:
    rows = table(fleet(), "ja")
    too_old = rows["pc1.corp.example"]
    assert "KMS ホスト KMS02" in too_old and "ビルド 22631" in too_old and "KMS ホスト キーを更新" in too_old
    clone = rows["clone1.corp.example"]
    assert "クライアント マシン ID" in clone and "clone2.corp.example" in clone
    assert "Office がライセンス認証されていません" in rows["pc9.corp.example"]
    assert "update the KMS host key" not in too_old and "Office not licensed" not in rows["pc9.corp.example"]


def test_a_narrow_terminal_keeps_the_note_and_leaves_out_the_facts() -> None:
    buffer = io.StringIO()
    print_status(fleet(), Console(file=buffer, width=110, color_system=None))
    shown = buffer.getvalue()
    header = next(line for line in shown.splitlines() if line.startswith("┃"))
    assert "note" in header and "edition" not in header
    where = [cell.strip() for cell in header.split("┃")].index("note")
    notes = " ".join(line.split("│")[where].strip() for line in shown.splitlines() if line.startswith("│"))
    assert "(Windows build 22631): update the KMS host key" in notes


def test_a_fleet_with_nothing_to_note_has_no_note_column() -> None:
    buffer = io.StringIO()
    print_status([read("pc1.corp.example", 1)], Console(file=buffer, width=200, color_system=None))
    assert "note" not in buffer.getvalue()
