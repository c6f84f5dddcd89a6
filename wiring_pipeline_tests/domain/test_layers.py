"""The domain's layers (see `wiring_pipeline/domain/__init__.py`): a package imports only the
packages below it, and no module imports another package's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import wiring_pipeline.domain

DOMAIN = Path(wiring_pipeline.domain.__file__).parent
STAGES = ("ingest", "cleansing", "inventory", "health", "backfill", "access")
#: What each package may import of the domain besides itself.
ALLOWED = {
    "core": set(),
    "contract": {"core"},
    **{stage: {"core", "contract"} for stage in STAGES},
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def test_every_domain_package_is_in_a_layer():
    packages = {p.name for p in DOMAIN.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(ALLOWED)
    assert not [p.name for p in DOMAIN.glob("*.py") if p.name != "__init__.py"], (
        "the domain has no loose modules: each belongs to a concept package"
    )


def test_packages_import_only_the_layers_below():
    for package, allowed in ALLOWED.items():
        for path in (DOMAIN / package).rglob("*.py"):
            for name in _imports(path):
                parts = name.split(".")
                if parts[0] != "wiring_pipeline":
                    continue
                assert parts[1] == "domain", f"{path}: the domain imports {name}"
                if len(parts) > 2 and parts[2] in ALLOWED:
                    assert parts[2] in allowed | {package}, f"{path}: {package} imports {name}"


def test_no_private_name_crosses_a_module():
    for path in DOMAIN.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("wiring"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path}: imports {private} from {node.module}"
