"""The message catalog from the source (a maintainer's tool; needs Babel, the dev extra).

    python -m remediate.i18n_extract

extracts remediate's messages (_(), ngettext(), N_(), the docstrings of click commands, which are their help, and
the descriptions of the shipped sandbox scenarios)
and click's own into remediate/locale/remediate.pot, merges it into each language's .po (new entries empty, gone
ones dropped, sorted by msgid so that concurrent edits merge line by line), and compiles each .po into the .mo
the package ships. Run it after changing messages, and again after translating.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import IO, Any

import click
import yaml
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir, extract_python
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from remediate.i18n import DOMAIN, LOCALE_DIR

ROOT = Path(__file__).resolve().parents[1]
MAPPING = LOCALE_DIR / "babel.cfg"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
TRANSLATED = ("ja",)
_COMMAND_DECORATORS = {"command", "group"}  # @main.command(...), @click.group(...), @keys.command(...)
_CLICK_VARIABLES = ("required",)  # click translates these through a variable (`_(extra["required"])`)


def extract_messages(
    fileobj: IO[bytes], keywords: Mapping[str, Any], comment_tags: Collection[str], options: Any
) -> Iterator[tuple[Any, ...]]:
    """Babel's Python extraction, and the docstring of each click command: click shows it as the command's help
    (options.Command translates it, cleaned as inspect.cleandoc cleans it)."""
    fileobj.seek(0)
    source = fileobj.read()
    yield from extract_python(BytesIO(source), keywords, comment_tags, options)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(map(_is_command, node.decorator_list)):
            docstring = ast.get_docstring(node, clean=True)
            if docstring:
                yield node.lineno, None, docstring, []


def extract_scenario_description(
    fileobj: IO[bytes], keywords: Mapping[str, Any], comment_tags: Collection[str], options: Any
) -> Iterator[tuple[Any, ...]]:
    """The description of a shipped sandbox scenario, as the demo shows it (stripped)."""
    description = str(yaml.safe_load(fileobj.read()).get("description") or "").strip()
    if description:
        yield 1, None, description, []


def _is_command(decorator: ast.expr) -> bool:
    call = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = call.attr if isinstance(call, ast.Attribute) else call.id if isinstance(call, ast.Name) else ""
    return name in _COMMAND_DECORATORS


def template() -> Catalog:
    """Every message of remediate (per babel.cfg) and of the installed click."""
    catalog = Catalog(project="remediate", domain=DOMAIN, charset="utf-8", creation_date=_created())
    with MAPPING.open(encoding="utf-8") as file:
        method_map, options_map = parse_mapping_cfg(file)  # type: ignore[no-untyped-call]
    click_dir = Path(inspect.getfile(click)).parent
    sources = [(ROOT, method_map, options_map, ""), (click_dir, [("**.py", "python")], {}, "click/")]
    for folder, methods, options, prefix in sources:
        for filename, lineno, message, comments, context in extract_from_dir(
            folder, methods, options, keywords=DEFAULT_KEYWORDS
        ):
            catalog.add(message, locations=[(prefix + filename, lineno)], auto_comments=comments, context=context)
    for message in _CLICK_VARIABLES:
        catalog.add(message, locations=[("click/core.py", 0)])
    return catalog


def _created() -> datetime | None:
    """The template's first creation date, kept (a new date on every run would make the catalogs conflict)."""
    if not TEMPLATE.exists():
        return None
    with TEMPLATE.open("rb") as file:
        created = read_po(file).creation_date
    return created if isinstance(created, datetime) else None


def update() -> None:
    """Write the template, merge it into each language's catalog, and compile each one."""
    pot = template()
    _write(TEMPLATE, pot)
    for lang in TRANSLATED:
        po_path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po_path.exists():
            with po_path.open("rb") as file:
                catalog = read_po(file, locale=lang, domain=DOMAIN)
        else:
            catalog = Catalog(locale=lang, domain=DOMAIN, project="remediate", charset="utf-8", fuzzy=False)
        catalog.update(pot, no_fuzzy_matching=True)
        catalog.obsolete.clear()  # a message gone from the code: its translation goes too
        _write(po_path, catalog)
        po_path.with_suffix(".mo").write_bytes(compiled(po_path))


def compiled(po_path: Path) -> bytes:
    """`po_path` compiled to .mo (what the package ships), fuzzy entries left out."""
    with po_path.open("rb") as file:
        catalog = read_po(file, domain=DOMAIN)
    out = BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def _write(path: Path, catalog: Catalog) -> None:
    """Sorted by msgid, without line numbers (they would make every edit of the code a change of the catalogs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = BytesIO()
    write_po(out, catalog, width=120, sort_output=True, include_lineno=False)
    path.write_bytes(out.getvalue())


if __name__ == "__main__":
    update()
