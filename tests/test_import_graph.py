"""The import rules of docs/ARCHITECTURE.md, checked on the source (ast) and in a fresh interpreter:

- no service package imports another service package (each deploys on its own, on its own hardware);
- ML code (toyworld, models, training, evaluation) imports no serving code;
- the shared neutral packages (common, store) import neither serving nor ML code, and nothing imports the CLI;
- the gateway, which runs without a GPU and serves no model, does not load torch or open_clip.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from t2ialign.paths import REPO_ROOT

PACKAGE_DIR = REPO_ROOT / "services" / "t2ialign"
DECLARED_SERVICES = {"generator", "reward", "gateway", "trainer", "coordinator"}
SERVICES = DECLARED_SERVICES | {p.parent.name for p in PACKAGE_DIR.glob("*/deployment.py")}
SERVING = SERVICES | {"serving", "client"}
ML = {"toyworld", "models", "training", "evaluation"}
NEUTRAL = {"common", "store"}
GENERATED = {"v1"}  # protoc output
MODEL_MODULES = ("torch", "open_clip", "diffusers")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in the file (lazy imports inside functions count too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}  # `from t2ialign import reward` imports a package
    return found


def top_package(module: str) -> str | None:
    """`t2ialign.reward.logic` -> "reward"; None outside t2ialign or for t2ialign's own top-level modules."""
    parts = module.split(".")
    return parts[1] if parts[0] == "t2ialign" and len(parts) > 1 and (PACKAGE_DIR / parts[1]).is_dir() else None


def import_graph() -> dict[str, set[str]]:
    """Package -> the other t2ialign packages its modules import."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        own = top_package(module_name(path))
        if own is None or own in GENERATED:
            continue
        targets = {top_package(m) for m in imported_modules(path)} - {None, own}
        graph.setdefault(own, set()).update(t for t in targets if t is not None)
    return graph


def violations(graph: dict[str, set[str]], sources: set[str], forbidden: set[str]) -> dict[str, list[str]]:
    return {p: sorted(graph[p] & (forbidden - {p})) for p in sorted(sources & graph.keys()) if graph[p] & forbidden}


def test_the_graph_sees_every_package_and_their_imports() -> None:
    graph = import_graph()
    assert {"reward", "generator", "gateway", "serving", "models", "training", "evaluation"} <= graph.keys()
    assert {"models", "serving", "store"} <= graph["reward"]  # a parse that finds nothing would pass the rules
    assert {"reward", "generator", "gateway"} <= SERVICES


def test_no_service_imports_another_service() -> None:
    assert violations(import_graph(), SERVICES, SERVICES) == {}


def test_ml_code_imports_no_serving_code() -> None:
    assert violations(import_graph(), ML, SERVING | {"cli"}) == {}


def test_only_the_cli_imports_the_cli() -> None:
    graph = import_graph()
    assert sorted(p for p, targets in graph.items() if "cli" in targets and p != "cli") == []


def test_neutral_packages_import_neither_serving_nor_ml_code() -> None:
    assert violations(import_graph(), NEUTRAL, SERVING | ML | {"cli"}) == {}


@pytest.mark.parametrize("module", ["t2ialign.gateway.deployment", "t2ialign.serving.app"])
def test_the_gateway_loads_no_model_code(module: str) -> None:
    """The gateway's Serve app (and the app builder that deploys it) must start on a CPU-only, torch-free pod."""
    code = f"import sys, json, {module}; print(json.dumps([m for m in {MODEL_MODULES!r} if m in sys.modules]))"
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_DIR.parent)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
