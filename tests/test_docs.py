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


# ----------------------------------------------------------------------------- documented defaults

# `name=value` in inline code, in a sentence that calls it a default.
_PARAM_EQUALS = re.compile(r"`(\w+)=([^`]+)`")


def _estimator_defaults() -> dict[str, object]:
    import inspect

    from proglearn_supcon import (
        KNNClassificationVoter,
        LifelongClassificationNetwork,
        NeuralClassificationTransformer,
        SupConKNNClassifier,
    )

    defaults: dict[str, object] = {}
    for cls in (
        LifelongClassificationNetwork,
        SupConKNNClassifier,
        NeuralClassificationTransformer,
        KNNClassificationVoter,
    ):
        for name, parameter in inspect.signature(cls).parameters.items():
            defaults.setdefault(name, parameter.default)
    return defaults


def documented_defaults(text: str, names) -> list[tuple[str, str]]:
    """``(name, value)`` of every `` `name=value` `` of a known parameter in a sentence that says "default"."""
    found = []
    for sentence in re.split(r"(?<=[.;:])\s+|\n\s*\n", text):
        if "default" not in sentence.lower():
            continue
        found += [(name, value) for name, value in _PARAM_EQUALS.findall(sentence) if name in names]
    return found


def _doc_pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def test_documented_defaults_are_found():
    text = "The default is `lr=1e-3`. Pass `lr=5e-3` to go faster. By default `patience=20`; see `k=3`."
    assert documented_defaults(text, {"lr", "patience"}) == [("lr", "1e-3"), ("patience", "20")]


@pytest.mark.parametrize("page", _doc_pages(), ids=lambda p: p.name)
def test_documented_defaults_equal_the_code(page):
    import ast

    defaults = _estimator_defaults()
    wrong = []
    for name, text in documented_defaults(page.read_text(encoding="utf-8"), defaults):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        if value != defaults[name]:
            wrong.append(f"{name}={text} (the code's default is {defaults[name]!r})")
    assert not wrong, f"{page.name} documents defaults the code does not have: {wrong}"
