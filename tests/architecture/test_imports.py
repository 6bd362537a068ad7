"""The packages import one way, left to right:

    bench -> pipeline -> review, components -> models -> libraries

a package imports only packages to its right (libraries import each other, but no two packages
import each other). Read from the source (every `import`, also inside functions)."""

import ast
import itertools
from collections import defaultdict
from typing import Dict, Set

from tests.conftest import REPO

LIBRARIES = {"config_core", "runtime", "schemas", "tokenization", "pqrnn", "teacher", "beam_jobs"}
# Left to right; a package may import the packages of the layers to its right, and a library
# other libraries.
LAYERS = [{"bench"}, {"pipeline"}, {"review", "components"}, {"models"}, LIBRARIES]
PACKAGES = set().union(*LAYERS)
LAYER_OF = {package: index for index, layer in enumerate(LAYERS) for package in layer}


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


def test_each_package_imports_only_packages_to_its_right():
    found = imports_by_package()
    leftward = {
        f"{package} -> {target}": sorted(modules)
        for package in PACKAGES
        for target, modules in found[package].items()
        if not (LAYER_OF[target] > LAYER_OF[package] or {package, target} <= LIBRARIES)
    }
    assert not leftward, leftward


def test_every_package_has_a_layer():
    packages = {path.parent.name for path in REPO.glob("*/__init__.py")} - {"tests"}
    assert packages <= PACKAGES, sorted(packages - PACKAGES)


def test_no_two_packages_import_each_other():
    found = imports_by_package()
    cycles = [(a, b) for a, b in itertools.combinations(sorted(PACKAGES), 2) if b in found[a] and a in found[b]]
    assert not cycles, {f"{a} <-> {b}": (sorted(found[a][b]), sorted(found[b][a])) for a, b in cycles}


def test_the_walk_sees_imports():
    # Guards the test itself: known one-way edges are found.
    found = imports_by_package()
    assert "pqrnn" in found["models"] and "beam_jobs" in found["components"] and "schemas" in found["teacher"]
    assert "review" in found["pipeline"] and "pipeline" in found["bench"] and "models" in found["review"]
