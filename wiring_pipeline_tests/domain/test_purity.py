"""The rules of the house that a reader could miss: the domain owns no transaction and
imports no Dagster."""

from __future__ import annotations

import ast
from pathlib import Path

import wiring_pipeline.domain

DOMAIN = Path(wiring_pipeline.domain.__file__).parent
FORBIDDEN_CALLS = {
    "commit",
    "begin",
    "rollback",
    "create_engine",
    "Session",
    "sessionmaker",
    "begin_nested",
    "connect",
}


def _domain_modules() -> list[Path]:
    return sorted(DOMAIN.rglob("*.py"))


def test_domain_imports_no_dagster():
    for path in _domain_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0].startswith("dagster") for n in names), path


def test_domain_never_begins_or_commits():
    for path in _domain_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"
