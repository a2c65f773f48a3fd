"""A CSV of product keys, as volume-licensing portals export them, read into checked rows.

The first line names the columns; case, spaces and the order do not matter, English or Japanese:

    key        Product Key, Key, プロダクト キー                (required)
    label      Label, Name, Key Name, ラベル, 名前             (default: <channel>-<last five>, e.g. mak-T83GX)
    channel    Channel, Key Type, Type, 種類, キーの種類         (MAK, KMS host/CSVLK, Retail, OEM, GVLK)
    product    Product, Product Name, Product Group, Edition, 製品, 製品名
    budget     Budget, Remaining, Activations Remaining, MAK Activations Remaining, 残り回数

UTF-8 (with or without BOM), UTF-16 with a BOM (Excel's "Unicode text") and CP932 (Excel on Japanese Windows)
are read. Every bad row is reported with its line number and column; one bad row and nothing is imported.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

from remediate.errors import Location, ProductKeyError, UsageError
from remediate.i18n import _
from remediate.input_file import read_input_bytes
from remediate.ledger.channels import parse_channel
from remediate.ledger.records import check_label, check_text
from remediate.productkey import ProductKey

COLUMNS = {
    "key": ("product key", "productkey", "key", "プロダクト キー", "プロダクトキー"),
    "label": ("label", "name", "key name", "ラベル", "名前"),
    "channel": ("channel", "key type", "type", "種類", "キーの種類", "チャネル"),
    "product": ("product", "product name", "product group", "edition", "製品", "製品名"),
    "budget": ("budget", "remaining", "activations remaining", "remaining activations", "mak activations remaining",
               "残り回数", "残りライセンス認証回数"),
}
_NO_BUDGET = ("", "-", "n/a", "unlimited", "なし")


@dataclass(frozen=True)
class KeyRow:
    """One good row of a keys file."""

    location: Location
    label: str
    key: ProductKey
    channel: str
    product: str | None
    budget: int | None


class KeysFileError(UsageError):
    """Every problem of one keys file, each with its line and column."""

    def __init__(self, source: Path, problems: list[tuple[Location, str]]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {where}: {message}" for where, message in problems)
        super().__init__(_("{count} bad row(s), nothing imported:\n{lines}").format(count=len(problems), lines=lines),
                         Location(source))


def read_keys_csv(path: Path, default_channel: str | None = None) -> list[KeyRow]:
    """The rows of a keys file; KeysFileError naming every bad row (and importing none)."""
    text = _decode(read_input_bytes(path, _("keys file")), path)
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if header is None:
        raise UsageError(_("the keys file is empty"), Location(path))
    columns = _columns(header, path)
    rows: list[KeyRow] = []
    problems: list[tuple[Location, str]] = []
    seen_labels: dict[str, int] = {}
    seen_keys: dict[ProductKey, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        row, row_problems = _row(cells, columns, Location(path, line), default_channel)
        if row is not None:
            if row.label in seen_labels:
                row_problems.append(("label", _("the label {label} is already on line {value}").format(
                    label=row.label, value=seen_labels[row.label])))
            elif row.key in seen_keys:
                row_problems.append(("key", _("the same key is already on line {value}").format(
                    value=seen_keys[row.key])))
            else:
                seen_labels[row.label] = line
                seen_keys[row.key] = line
                rows.append(row)
        problems.extend((Location(path, line, field), message) for field, message in row_problems)
    if problems:
        raise KeysFileError(path, problems)
    if not rows:
        raise UsageError(_("the keys file has no rows under its header"), Location(path))
    return rows


def _columns(header: list[str], path: Path) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        normal = " ".join(name.strip().lower().replace("_", " ").split())
        for field, names in COLUMNS.items():
            if normal in names and field not in found:
                found[field] = index
    if "key" not in found:
        raise UsageError(_("the keys file has no key column (a header such as 'Product Key')"), Location(path, 1),
                         hint=_("the first line names the columns: Product Key, Label, Channel, Product, Budget"))
    return found


def _row(cells: list[str], columns: dict[str, int], where: Location,
         default_channel: str | None) -> tuple[KeyRow | None, list[tuple[str, str]]]:
    def cell(field: str) -> str:
        index = columns.get(field)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    problems: list[tuple[str, str]] = []
    key: ProductKey | None = None
    try:
        key = ProductKey.parse(cell("key"))
    except ProductKeyError as error:
        problems.append(("key", error.message))
    channel: str | None = None
    try:
        channel = parse_channel(cell("channel") or default_channel or "")
    except UsageError as error:
        problems.append(("channel", error.message if cell("channel") else _("no channel: add a Channel column or "
                                                                            "give --channel")))
    product: str | None = None
    budget: int | None = None
    try:
        product = check_text(cell("product"), "product") if cell("product") else None
    except UsageError as error:
        problems.append(("product", error.message))
    raw_budget = cell("budget").replace(",", "").replace(" ", "")
    if raw_budget.lower() not in _NO_BUDGET:
        if raw_budget.isdecimal() and raw_budget.isascii():
            budget = int(raw_budget)
        else:
            problems.append(("budget", _("not a whole number of activations")))
    label = cell("label")
    if not label and key is not None and channel is not None:
        label = f"{channel.lower()}-{key.last_five}"
    try:
        label = check_label(label) if label else label
    except UsageError as error:
        problems.append(("label", error.message))
    if problems or key is None or channel is None:
        return None, problems
    return KeyRow(where, label, key, channel, product, budget), problems


def _decode(data: bytes, path: Path) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise UsageError(_("the keys file is not valid UTF-16 text"), Location(path)) from None
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UsageError(_("the keys file is neither UTF-8, UTF-16 nor CP932 text"), Location(path),
                     hint=_("save it from Excel as 'CSV UTF-8'"))
