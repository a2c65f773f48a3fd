"""The CSVLK groups of Microsoft's KMS activation planning (data/csvlk_groups.yaml): which Windows editions a KMS
host activates, by the group of its host key, and how its licence names the group."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

GROUPS_FILE = Path(__file__).resolve().parent / "data" / "csvlk_groups.yaml"


@dataclass(frozen=True)
class CsvlkGroup:
    """One row of KMSPLAN's "Activation versions" table."""

    name: str  # ws2022, ...
    title: str  # "Volume License for Windows Server 2022"
    token: str  # the Description's channel token, e.g. VOLUME_KMS_WS22
    hosted_on: str
    activates: str
    servers: bool  # False: a client CSVLK, client OSes only
    server_max_build: int | None
    client_max_build: int | None

    def can_activate(self, server: bool, build: int) -> bool:
        """Whether a KMS host of this group activates a client of this kind (server or client OS) and build."""
        if server and not self.servers:
            return False
        newest = self.server_max_build if server else self.client_max_build
        return newest is None or build <= newest


@functools.cache
def groups() -> dict[str, CsvlkGroup]:
    table = yaml.safe_load(GROUPS_FILE.read_text("utf-8"))
    return {
        str(name): CsvlkGroup(
            name=str(name),
            title=str(row["title"]),
            token=str(row["token"]),
            hosted_on=str(row["hosted_on"]),
            activates=str(row["activates"]),
            servers=bool(row["servers"]),
            server_max_build=row["server_max_build"],
            client_max_build=row["client_max_build"],
        )
        for name, row in table.items()
    }


def group_of(description: str) -> CsvlkGroup | None:
    """The group a KMS host licence's Description names ("Windows(R) Operating System, VOLUME_KMS_WS22 channel");
    None when it names none this table knows."""
    words = set(description.replace(",", " ").split())
    return next((group for group in groups().values() if group.token in words), None)
