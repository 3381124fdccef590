from pathlib import Path

from setuptools import find_packages, setup

version = {}
exec(Path("proglearn_supcon/_version.py").read_text(), version)

setup(
    name="proglearn-supcon",
    version=version["__version__"],
    description=(
        "Progressive (lifelong) learning networks with kNN voters whose "
        "transformers are trained with the supervised contrastive loss"
    ),
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # One top-level name: experiments/ and plotting/ in the checkout are thin scripts
    # over proglearn_supcon.experiments and proglearn_supcon.plotting.
    packages=find_packages(include=["proglearn_supcon", "proglearn_supcon.*"]),
    entry_points={"console_scripts": ["proglearn-supcon = proglearn_supcon.cli:main"]},
    install_requires=[
        "torch>=2.0",
        "numpy>=1.24",
        "scikit-learn>=1.3",
        "joblib>=1.4",  # Parallel(return_as="generator_unordered")
        "tqdm>=4.60",
        "matplotlib>=3.7",
        "seaborn>=0.12",
        "pandas>=1.5",
    ],
    extras_require={
        # the tests cover the Dask backend, so they need it
        "test": ["pytest>=7", "dask[distributed]>=2023.1"],
        # Lint and format check of .ci/run (configured in pyproject.toml). Pinned:
        # another ruff release may format the same code differently.
        "lint": ["ruff==0.17.6"],
        # benchmarks/loss.py compares with pytorch-metric-learning's SupConLoss
        "bench": ["pytorch-metric-learning>=2.0"],
        # Backends of the experiment (--backend dask / ray).
        "dask": ["dask[distributed]>=2023.1"],
        "ray": ["ray>=2.9"],
        # The documentation site (docs/, examples/): python -m sphinx -W -b html docs docs/_build/html
        "docs": [
            "sphinx>=8.1",
            "numpydoc>=1.8",
            "pydata-sphinx-theme>=0.16",
            "sphinx-gallery>=0.18",
            "myst-parser>=4.0",
        ],
    },
)
