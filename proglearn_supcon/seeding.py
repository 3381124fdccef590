"""Reproducible seeds derived from a user's ``random_state`` and a key."""

from __future__ import annotations

import zlib

import numpy as np


def derive_seed(random_state: int | None, *key) -> int:
    """A 32-bit seed from ``random_state`` and ``key``.

    The same (random_state, key) always gives the same seed, in any process
    (``repr`` + CRC32, unlike ``hash`` which Python randomises per process);
    ``random_state=None`` gives a fresh random seed every call.
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    key_hash = zlib.crc32(repr(key).encode("utf-8"))
    return int(np.random.SeedSequence([int(random_state), key_hash]).generate_state(1)[0])
