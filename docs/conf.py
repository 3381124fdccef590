"""Sphinx configuration of the proglearn-supcon documentation.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import importlib
import inspect
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Document this checkout, not whatever copy of the package happens to be installed.
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PYTHONPATH", str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import proglearn_supcon  # noqa: E402

project = "proglearn-supcon"
author = "the proglearn-supcon authors"
copyright = "the proglearn-supcon authors"
release = proglearn_supcon.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
# results/ holds the committed result files read by the code and the tests; not pages.
exclude_patterns = [
    "_build",
    "results",
    "**.ipynb_checkpoints",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
]

# -- API reference: generated recursively from the package, so every public
# class and function is listed whatever the module layout, and every default is
# the code's own.
autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = True
# Members are listed by the class template (docs/_templates/autosummary/class.rst),
# inherited ones included (e.g. save/load from a private base) except the generic
# ones of scikit-learn and torch base classes; module pages do not repeat them.
autodoc_default_options = {"show-inheritance": True}
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
autoclass_content = "class"
add_module_names = False

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- Markdown pages
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "dollarmath"]

# -- Examples, executed at build time
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "reset_modules": ("matplotlib",),
    "abort_on_example_error": True,
    "show_signature": False,
    "doc_module": ("proglearn_supcon",),
    "backreferences_dir": "api/backreferences",
}

# -- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"proglearn-supcon {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path = []
html_show_sourcelink = False


# -- Links to the package. ``proglearn_supcon.LifelongClassificationNetwork``
# (a top-level name) resolves to the page of the module that defines the
# object, and a link whose module has moved resolves to the one documented
# object of that name, so the pages need not follow the package layout. A link
# to the package that resolves to nothing is a build warning (an error with -W).
from sphinx.util import logging as _logging  # noqa: E402

_logger = _logging.getLogger(__name__)


def _resolve_package_link(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target.startswith("proglearn_supcon") or any(p.startswith("_") for p in target.split(".")):
        return None  # private names (e.g. a private base class) have no page
    domain = env.get_domain("py")
    candidates = []
    module_name, _, name = target.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), name)
        real_module = getattr(inspect.unwrap(obj), "__module__", None)
        if real_module:
            candidates.append(f"{real_module}.{getattr(obj, '__qualname__', name)}")
    except (ImportError, AttributeError, ValueError):
        pass
    # the same object name (``Class.method`` keeps its class) anywhere in the package
    parts = target.split(".")
    for n_tail in (2, 1):
        tail = ".".join(parts[-n_tail:])
        matches = [full for full in domain.objects if full.endswith("." + tail) and full.startswith("proglearn_supcon")]
        if len(matches) == 1:
            candidates.append(matches[0])
    for candidate in candidates:
        if candidate == target:
            continue
        node["reftarget"] = candidate
        found = domain.resolve_xref(env, node.get("refdoc"), app.builder, node["reftype"], candidate, node, contnode)
        if found is not None:
            return found
    node["reftarget"] = target
    _logger.warning("unresolved link to %s", target, location=node)
    return None


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn adds set_{fit,score,...}_request to every estimator class
    # (metadata routing); their docstrings link into scikit-learn's own site.
    if (name.startswith("set_") and name.endswith("_request")) or name == "get_metadata_routing":
        return True
    return None


def _public_bases(app, name, obj, options, bases):
    # "Bases: _NetworkParams" names a private helper the reader cannot look up:
    # show the public classes it stands for (its own bases, recursively) instead.
    public = []
    for base in bases:
        expanded = _expand_private(base)
        public += [b for b in expanded if b not in public]
    bases[:] = public


def _expand_private(base) -> list:
    if not getattr(base, "__name__", "").startswith("_"):
        return [base]
    return [b for parent in base.__bases__ if parent is not object for b in _expand_private(parent)]


def setup(app):
    app.connect("missing-reference", _resolve_package_link)
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-bases", _public_bases)
