"""The layers import one way: libraries never import the orchestration or the review, and no
two packages import each other. Read from the source (every `import`, also inside functions)."""

import ast
import itertools
from collections import defaultdict
from typing import Dict, Set

from tests.conftest import REPO

LIBRARIES = {"config_core", "schemas", "tokenization", "pqrnn", "teacher", "beam_jobs"}
ORCHESTRATION = {"models", "components", "pipeline", "review"}
PACKAGES = LIBRARIES | ORCHESTRATION | {"bench"}


def imports_by_package() -> Dict[str, Dict[str, Set[str]]]:
    """{package: {imported project package: {importing module paths}}}."""
    found: Dict[str, Dict[str, Set[str]]] = {p: defaultdict(set) for p in PACKAGES}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in PACKAGES and top != package:
                        found[package][top].add(str(path.relative_to(REPO)))
    return found


def test_libraries_do_not_import_the_orchestration_or_the_review():
    found = imports_by_package()
    upward = {
        f"{library} -> {target}": sorted(modules)
        for library in LIBRARIES
        for target, modules in found[library].items()
        if target not in LIBRARIES
    }
    assert not upward, upward


def test_no_two_packages_import_each_other():
    found = imports_by_package()
    cycles = [(a, b) for a, b in itertools.combinations(sorted(PACKAGES), 2) if b in found[a] and a in found[b]]
    assert not cycles, {f"{a} <-> {b}": (sorted(found[a][b]), sorted(found[b][a])) for a, b in cycles}


def test_the_walk_sees_imports():
    # Guards the test itself: known one-way edges are found.
    found = imports_by_package()
    assert "pqrnn" in found["models"] and "beam_jobs" in found["components"] and "schemas" in found["teacher"]
