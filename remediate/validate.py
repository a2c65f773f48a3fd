"""`remediate validate`: every problem of each playbook file or folder given, templates rendered.

It makes the checks a run makes before connecting, through the same code (`check_playbook_file`,
`Renderer.problems`) and within the same limits, so whatever a run would refuse, validate refuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from remediate import resources
from remediate.codes import ErrorCode
from remediate.i18n import _
from remediate.playbook import Problem, check_playbook_file, playbook_files, template_dirs_for
from remediate.render import Renderer


def validate_files(paths: Sequence[Path]) -> list[tuple[Path, list[Problem]]]:
    """Every problem of each playbook file under `paths` (default: the shipped ones), templates rendered.

    A step's script depends only on its template, `options` and id, never on values, so rendering each step
    once covers every combination of the render-time conditions.
    """
    roots = [Path(p) for p in paths] or [resources.playbooks_dir()]
    files: list[Path] = []
    problems_by_file: dict[Path, list[Problem]] = {}
    for root in roots:
        if not root.exists():
            problems_by_file[root] = [Problem(root, None, "", _("no such file or folder"))]
            files.append(root)
            continue
        found = playbook_files(root)
        if root.is_dir() and not found:
            problems_by_file[root] = [Problem(root, None, "", _("no playbook files (*.yaml) in this folder"))]
            files.append(root)
        files.extend(found)
    folders = [f.parent for f in files if f.suffix in (".yaml", ".yml")]
    renderer = Renderer(template_dirs_for(list(dict.fromkeys(folders))))
    claimed: dict[ErrorCode, Path] = {}
    for path in files:
        if path in problems_by_file:
            continue
        playbook, problems = check_playbook_file(path, renderer.template_dirs)
        if playbook is not None:
            problems = renderer.problems(playbook)
            for index, code in enumerate(playbook.codes):
                if code in claimed and claimed[code] != path:
                    problems.append(
                        Problem(
                            path,
                            None,
                            "code" if index == 0 else "also",
                            _("{code} is also handled by {value}").format(code=code, value=claimed[code]),
                        )
                    )
                claimed.setdefault(code, path)
        problems_by_file[path] = problems
    return [(path, problems_by_file[path]) for path in files]
