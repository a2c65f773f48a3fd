"""The core modules (remediate/ outside remediate/sandbox) import each other without a cycle.

The import graph is read from the package's own files with `ast`: every import that runs counts, a late one
inside a function too; imports under `if TYPE_CHECKING:` never run and do not.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import remediate

PACKAGE = Path(remediate.__file__).resolve().parent
OUTSIDE_THE_CORE = ("sandbox",)


def module_name(package: Path, file: Path) -> str:
    parts = [package.name, *file.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def core_files(package: Path) -> dict[str, Path]:
    return {
        module_name(package, file): file
        for file in sorted(package.rglob("*.py"))
        if file.relative_to(package).parts[0] not in OUTSIDE_THE_CORE
    }


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for statement in child.orelse:
                yield from _runtime_imports_of(statement)
            continue
        yield from _runtime_imports_of(child)


def _runtime_imports_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _runtime_imports(node)


def imported_modules(name: str, file: Path, modules: Mapping[str, Path]) -> set[str]:
    """The core modules `file` (module `name`) imports when it runs."""
    found: set[str] = set()
    is_package = file.name == "__init__.py"
    for node in _runtime_imports(ast.parse(file.read_text("utf-8"), str(file))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
            continue
        base = node.module or ""
        if node.level:  # a relative import: resolve it against this module's package
            anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if submodule in modules:
                found.add(submodule)
            elif base in modules:
                found.add(base)
    found.discard(name)
    return found


def import_graph(package: Path) -> dict[str, set[str]]:
    modules = core_files(package)
    return {name: imported_modules(name, file, modules) for name, file in modules.items()}


def import_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle through each group of modules that import each other, as [a, b, ..., a]."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(group)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return [_cycle_in(graph, group) for group in groups]


def _cycle_in(graph: Mapping[str, set[str]], group: set[str]) -> list[str]:
    start = min(group)
    paths = [[start]]
    while paths:  # breadth first: the shortest way back to the start
        path = paths.pop(0)
        for target in sorted(graph[path[-1]] & group):
            if target == start:
                return [*path, start]
            if target not in path:
                paths.append([*path, target])
    raise AssertionError(f"no cycle through {sorted(group)}")


def test_the_core_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph(PACKAGE)
    assert "remediate.render" in graph and "remediate.sandbox.fleet" not in graph
    cycles = import_cycles(graph)
    assert not cycles, "import cycles among the core modules:\n" + "\n".join(
        "  " + " -> ".join(cycle) for cycle in cycles
    )


def test_a_late_import_closes_a_cycle_and_a_type_checking_one_does_not(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sandbox").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "plan.py": "from pkg.playbook import Playbook\n",
        "playbook.py": "class Playbook: ...\n\ndef validate():\n    from pkg.render import Renderer\n",
        "render.py": "from . import plan\nimport pkg.report\n",
        # Never runs, so no cycle; and the sandbox is outside the graph.
        "report.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.render import R\n"
            "import pkg.sandbox.fleet\n"
        ),
        "sandbox/__init__.py": "",
        "sandbox/fleet.py": "import pkg.report\n",
    }
    for name, text in files.items():
        (package / name).write_text(text, "utf-8")

    graph = import_graph(package)

    assert "pkg.sandbox.fleet" not in graph
    assert graph["pkg.report"] == set()
    assert import_cycles(graph) == [["pkg.plan", "pkg.playbook", "pkg.render", "pkg.plan"]]


# The key ledger's storage: where it is, its secrets, its migrations (Alembic loads the versions by path).
LEDGER_STORAGE = ("ledger.records", "ledger.location", "ledger.fingerprint", "ledger.encryption", "ledger.migrate",
                  "ledger.migrations", "ledger.migrations.env", "ledger.migrations.versions",
                  *(f"ledger.migrations.versions.{path.stem}"
                    for path in sorted((PACKAGE / "ledger" / "migrations" / "versions").glob("0*.py"))))

# The core in layers, lowest first: a module imports only from its own layer or below. The README's layout table
# names each module's one job; this is the direction of the dependencies between them.
LAYERS: list[tuple[str, ...]] = [
    # words, values and plumbing that know nothing of fleets
    ("errors", "duration", "reasons", "interrupt", "limits", "expressions", "resources", "powershell_syntax",
     "terminal", "input_file", "data", "ledger", "ledger.schema", "ledger.channels", "ledger.budget", "i18n",
     "transport_text"),
    ("productkey", "codes", "secret", "parameter_types", "inventory", "values", "explain", "results", "pool",
     "approvals", "ansible_variables", "inventory_tree", "ansible_inventory", "csv_inventory", "inventory_formats",
     "inventory_limit", "csvlk_groups", *LEDGER_STORAGE, "dispatch.secrets", "dispatch.tasks"),
    # playbooks, plans and the one connection to a host
    ("playbook", "plan", "render", "validate", "audit", "connector", "transport", "status", "saved_plan",
     "ledger.store", "ledger.csv_import", "dispatch.sites"),
    # what happens to hosts, and how it is shown
    ("engine", "diagnosis", "preview", "report", "status_view", "audit_view", "catalog", "html", "progress",
     "installation_ids", "kms_status", "ledger.views", "ledger.run_guard", "ledger.status_reads", "dispatch.payload",
     "dispatch.remote_engine", "dispatch.events", "dispatch.collector", "process_worker", "processes"),
    ("live", "dispatch", "dispatch.controller", "dispatch.host_task"),  # the application service
    ("demo",),
    ("config", "help_wrap", "options", "cli", "keys_cli", "kms_cli", "sandbox_cli", "dispatch.worker", "__main__",
     "i18n_extract"),
]
# Imports that only the transport may make: pypsrp and the HTTP stack under it.
TRANSPORT_ONLY = ("pypsrp", "psrpcore", "requests", "spnego", "urllib3")


def layer_of(module: str) -> int:
    if module == "remediate":
        return 0  # the package itself: its version
    short = module.removeprefix("remediate.")
    for number, layer in enumerate(LAYERS):
        if short in layer:
            return number
    raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to the README's layout table)")


def test_no_core_module_imports_a_higher_layer() -> None:
    graph = import_graph(PACKAGE)
    upward = [
        f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]
    assert not upward, "imports that go up a layer:\n  " + "\n  ".join(upward)


def test_only_the_transport_speaks_winrm_and_the_engine_knows_no_command_line() -> None:
    offenders = []
    for name, file in core_files(PACKAGE).items():
        tree = ast.parse(file.read_text("utf-8"), str(file))
        roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
        roots |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and not node.level}
        if name != "remediate.transport" and roots & set(TRANSPORT_ONLY):
            offenders.append(f"{name} imports {sorted(roots & set(TRANSPORT_ONLY))}")
        if name in ("remediate.engine", "remediate.render", "remediate.live") and "click" in roots:
            offenders.append(f"{name} imports click")
    assert not offenders, "\n".join(offenders)
