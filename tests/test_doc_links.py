"""Every relative link in the repository's Markdown files resolves: the file (or folder) exists,
and a `#anchor` names a heading of the Markdown file it points to (GitHub's heading ids)."""

import re
import subprocess
import unicodedata
from functools import lru_cache
from typing import List, Set, Tuple

import pytest

from tests.conftest import REPO

SKIP_DIRS = {".venv", ".git", "runs", ".cache", "build", "node_modules"}
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:, ...


def markdown_files() -> List[str]:
    """The repository's Markdown files: tracked, and new ones git does not ignore."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", "*.md"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        files = sorted({f for f in out if f and (REPO / f).is_file()})
    except (OSError, subprocess.CalledProcessError):
        files = sorted(
            str(p.relative_to(REPO)) for p in REPO.rglob("*.md") if not SKIP_DIRS & set(p.relative_to(REPO).parts)
        )
    return files


def _prose(text: str) -> str:
    """Markdown without fenced code blocks and code spans (links there are not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def links(text: str) -> List[str]:
    prose = _prose(text)
    return INLINE_LINK.findall(prose) + REFERENCE.findall(prose)


def slug(heading: str) -> str:
    """GitHub's id of a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    kept = [
        ch
        for ch in text
        if ch in " -_" or unicodedata.category(ch)[0] in "LN" or unicodedata.category(ch) in ("Mn", "Mc")
    ]
    return "".join(kept).replace(" ", "-")


@lru_cache(maxsize=None)
def anchors(path: str) -> Set[str]:
    """The heading ids of a Markdown file (a repeated heading gets -1, -2, ...)."""
    text = FENCE.sub("", (REPO / path).read_text(encoding="utf-8"))
    found: Set[str] = set()
    for match in re.finditer(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        base = slug(match.group(1))
        name, n = base, 0
        while name in found:
            n += 1
            name = f"{base}-{n}"
        found.add(name)
    # Explicit anchors: <a name="x"> / id="x".
    found |= set(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", text))
    return found


def broken_links(path: str) -> List[Tuple[str, str]]:
    """(link, why) for each relative link of one Markdown file that does not resolve."""
    source = REPO / path
    broken = []
    for target in links(source.read_text(encoding="utf-8")):
        if EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (source.parent / file_part).resolve() if file_part else source.resolve()
        try:
            relative = str(resolved.relative_to(REPO))
        except ValueError:
            broken.append((target, "points outside the repository"))
            continue
        if not resolved.exists():
            broken.append((target, "no such file"))
        elif anchor and resolved.suffix == ".md" and anchor.lower() not in anchors(relative):
            broken.append((target, f"no heading with id #{anchor} in {relative}"))
    return broken


def test_the_slugs_are_githubs():
    assert slug("Try the spec on this machine (`kfp-local`)") == "try-the-spec-on-this-machine-kfp-local"
    assert slug("4b. Submit to Vertex AI Pipelines") == "4b-submit-to-vertex-ai-pipelines"
    assert slug("Beam on Dataflow, Flink or Spark") == "beam-on-dataflow-flink-or-spark"
    assert slug("The [student](x.md): pQRNN") == "the-student-pqrnn"


def test_links_in_code_are_not_links():
    text = "see [a](a.md) and `[b](b.md)`\n\n```\n[c](c.md)\n```\n[d]: d.md\n"
    assert links(text) == ["a.md", "d.md"]


def test_the_readme_and_the_docs_are_checked():
    files = markdown_files()
    assert "README.md" in files and "docs/results.md" in files and "docs/data.md" in files


@pytest.mark.parametrize("path", markdown_files())
def test_every_relative_link_resolves(path):
    assert broken_links(path) == []
