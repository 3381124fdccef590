"""The README stays short and points at documentation pages that exist.

The site itself is built by CI (``.ci/run``), not by the test suite.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

QUICK_START = (
    'pip install "torch==2.13.0" -e . && proglearn-supcon run',
    'pip install "torch==2.13.0" -e ".[test]" && python -m pytest -q',
)


def readme_text() -> str:
    return README.read_text(encoding="utf-8")


def test_readme_at_most_150_lines():
    n_lines = len(readme_text().splitlines())
    assert n_lines <= 150, f"README.md has {n_lines} lines; move the detail into docs/"


@pytest.mark.parametrize("command", QUICK_START)
def test_readme_has_quick_start_command(command):
    assert command in readme_text()


def readme_local_links() -> list[str]:
    """Relative targets of the README's Markdown links and images (no URLs, no anchors)."""
    targets = re.findall(r"\]\(([^)\s]+)\)", readme_text())
    return [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_readme_links_to_docs_pages():
    links = readme_local_links()
    assert any(link.startswith("docs/") for link in links)


@pytest.mark.parametrize("target", readme_local_links())
def test_readme_link_target_exists(target):
    assert (ROOT / target).exists(), f"README.md links to {target}, which does not exist"


def test_docs_pages_are_in_the_site():
    """Every docs page the README links to is a page of the site (in the toctree of index.md)."""
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    for target in readme_local_links():
        path = Path(target)
        if path.parts[0] == "docs" and path.suffix in (".md", ".rst") and path.name != "index.md":
            page = path.relative_to("docs").with_suffix("").as_posix()
            assert page in index, f"{target} is not in the toctree of docs/index.md"
