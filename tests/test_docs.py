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


def test_api_pages_show_public_bases_only():
    """ "Bases: _NetworkParams" named a private class; the docs show the public ones it stands for."""
    import importlib.util

    pytest.importorskip("sphinx")  # docs/conf.py imports it

    from sklearn.base import BaseEstimator

    from proglearn_supcon import LifelongClassificationNetwork
    from proglearn_supcon.deciders import EMDecider

    spec = importlib.util.spec_from_file_location("docs_conf", ROOT / "docs" / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    for cls in (LifelongClassificationNetwork, EMDecider):
        bases = list(cls.__bases__)
        conf._public_bases(None, cls.__name__, cls, {}, bases)
        assert bases and not any(base.__name__.startswith("_") for base in bases), bases
    bases = list(LifelongClassificationNetwork.__bases__)
    conf._public_bases(None, "", LifelongClassificationNetwork, {}, bases)
    assert bases == [BaseEstimator]


def _regenerate_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("regenerate_quickstart", ROOT / "docs" / "regenerate_quickstart.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_quotes_the_quick_start_output_written_by_the_script():
    script = _regenerate_module()
    readme = readme_text()
    assert readme.count(script.START) == 1 and readme.count(script.END) == 1
    quoted = readme.split(script.START)[1].split(script.END)[0]
    assert "python docs/regenerate_quickstart.py" in quoted and "```text\n" in quoted
    assert "runs already finished in results/digits-hard" in quoted
    # Replacing the block keeps the rest of the README as it is.
    replaced = script.replace_block(readme, "new block")
    assert replaced.split(script.START)[0] == readme.split(script.START)[0]
    assert replaced.split(script.END)[1] == readme.split(script.END)[1]
    assert f"{script.START}\nnew block\n{script.END}" in replaced
    assert script.replace_block(replaced, "new block") == replaced
    with pytest.raises(ValueError, match="markers"):
        script.replace_block("no markers here", "x")


def test_quick_start_says_how_busy_the_machine_was_while_it_ran():
    script = _regenerate_module()
    assert script.machine_state(0.2, 0.1) == "an otherwise idle machine"
    # A load average read before the run misses work that starts with it; the cores others used during it do not.
    assert script.machine_state(0.2, 1.4) == "a machine other work kept busy (1.4 cores on average)"
    assert script.machine_state(3.9, None) == "a machine already busy (1-minute load average 3.9)"
    first = script.busy_cpu_seconds()
    if first is not None:  # Linux: the machine's busy time since boot only grows
        assert 0 < first <= script.busy_cpu_seconds()
