"""A fingerprint of the data a run was made on, recorded in its results file.

Two runs of one data set name are comparable only if they read the same
images: a results folder refuses to pool runs whose fingerprints differ
(:mod:`proglearn_supcon.runs.folder_contract`). The bundled digits are made by code
from scikit-learn's copy, so their fingerprint is a constant naming that
recipe; change it together with the code that makes the images. The CIFAR
files are checked against their official MD5s before they are used
(:mod:`~proglearn_supcon.datasets.cifar_checksums`), so their fingerprint is
those MD5s; unchecked (``--no-verify``) it is unknown.
"""

from __future__ import annotations

__all__ = ["DIGITS_FINGERPRINTS", "data_fingerprint"]

#: Fingerprints of the bundled digit data sets (see :mod:`proglearn_supcon.datasets.digits`).
DIGITS_FINGERPRINTS = {
    "digits": "scikit-learn digits, 32x32 bilinear",
    "digits-hard": "scikit-learn digits, 32x32 bilinear; rotation 45, translation 0.15, noise 0.3, seed 0",
}


def data_fingerprint(dataset: str, verified: bool = True) -> str | None:
    """The fingerprint of ``dataset``'s files; None where unknown (CIFAR files used without ``verified``)."""
    from proglearn_supcon.datasets.cifar_checksums import FILE_MD5

    if dataset in FILE_MD5:
        return " ".join(f"{name}={md5}" for name, md5 in FILE_MD5[dataset].items()) if verified else None
    return DIGITS_FINGERPRINTS.get(dataset)
