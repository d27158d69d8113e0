"""No import circle anywhere in the three packages, not even through an import inside a
function (grimp reads every import statement); the layers themselves are import-linter
contracts in pyproject.toml, checked by `make lint`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import grimp

PACKAGES = ("gateway", "frontend_app", "backend_app")
REPO = Path(__file__).resolve().parents[2]


def circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every import that closes a circle, as the circle's modules."""
    found = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                found.append([module, *back])
    return found


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    assert len(graph.modules) > 40  # the packages were found
    assert circles(graph) == []


def test_a_circle_is_found() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "a.b", "a.c"):
        graph.add_module(module)
    graph.add_import(importer="a.b", imported="a.c")
    assert circles(graph) == []
    graph.add_import(importer="a.c", imported="a.b")
    assert circles(graph) == [["a.b", "a.c", "a.b"], ["a.c", "a.b", "a.c"]]


def test_importing_a_shared_helper_loads_no_composition() -> None:
    # What an app imports of the gateway must not pull the composition in at run time
    # (a package's __init__ runs first: it must stay empty of imports).
    probe = (
        "import json, sys, backend_app.catalogue.writes, frontend_app.pages; "
        "print(json.dumps([m for m in sys.modules if m.startswith('gateway')]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert loaded <= {
        "gateway", "gateway.extensions", "gateway.signals", "gateway.http",
        "gateway.http.inputs", "gateway.http.negotiation", "gateway.http.tokens",
    }, loaded  # fmt: skip


def test_no_module_imports_a_test_module_or_a_conftest() -> None:
    # What tests and bench share lives in tests.support, never in a test or a conftest.
    graph = grimp.build_graph("tests", "bench", include_external_packages=False)
    leaves = [m for m in graph.modules if m.rsplit(".", 1)[-1].startswith(("test_", "conftest"))]
    assert len(leaves) > 40
    importers = {m: graph.find_modules_that_directly_import(m) for m in leaves}
    assert {m: found for m, found in importers.items() if found} == {}


def test_the_apps_contract_names_every_module_but_the_shared_helpers() -> None:
    # A new gateway module must be placed in the contract, not silently allowed.
    import tomllib

    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    forbidden = next(c for c in contracts["contracts"] if c["id"] == "apps-use-shared-helpers")
    graph = grimp.build_graph("gateway", include_external_packages=False)
    top = {".".join(m.split(".")[:2]) for m in graph.modules if m != "gateway"}
    shared = {"gateway.http", "gateway.extensions", "gateway.signals"}
    assert top - shared == set(forbidden["forbidden_modules"])
