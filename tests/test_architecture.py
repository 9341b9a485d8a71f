"""The flow rule of the README, checked on the code: a package imports only packages the documented flow
line puts before it (or itself). Every import counts, the ones inside functions too."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO


def documented_flow(readme: Path = REPO / "README.md") -> list[str]:
    """The packages in the order of the README's flow line ("tailtalk/ + prompts/ -> agent/ -> ...").
    Packages joined by "+" share a place."""
    line = next(
        line
        for line in readme.read_text(encoding="utf-8").splitlines()
        if line.startswith("tailtalk/") and "->" in line
    )
    return [" ".join(re.findall(r"(\w+)/", place)) for place in line.split("->")]


def upward_imports(root: Path, flow: list[str]) -> list[str]:
    """Every import in ``root``'s packages of a package that ``flow`` puts after the importing one."""
    place = {package: n for n, group in enumerate(flow) for package in group.split()}
    found = []
    for package, rank in place.items():
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                elif isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if place.get(top, -1) > rank:
                        found.append(f"{path.relative_to(root)}:{node.lineno}: {package}/ imports {module}")
    return found


def test_the_readme_documents_every_package_once():
    flow = documented_flow()
    packages = [p for group in flow for p in group.split()]
    assert packages == ["tailtalk", "prompts", "agent", "retrieval", "ranking", "explain", "ui", "eval"]
    assert all((REPO / p / "__init__.py").is_file() for p in packages)


def test_no_package_imports_one_after_it_in_the_flow():
    assert upward_imports(REPO, documented_flow()) == []


def test_a_planted_upward_import_is_caught(tmp_path):
    for package in ("tailtalk", "prompts", "agent", "retrieval", "ranking", "explain", "ui", "eval"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "ranking" / "base.py").write_text(
        "from retrieval.query import Candidate\nfrom ui.pipeline import TurnPipeline\n"
    )
    (tmp_path / "tailtalk" / "cli.py").write_text("def main():\n    import agent.state\n")
    assert upward_imports(tmp_path, documented_flow()) == [
        "tailtalk/cli.py:2: tailtalk/ imports agent.state",
        "ranking/base.py:2: ranking/ imports ui.pipeline",
    ]
