"""Tests of proglearn_supcon.fileio: atomic writes leave the old file or the new one."""

import pytest

from proglearn_supcon import fileio
from proglearn_supcon.fileio import atomic_path, atomic_write_text


def test_writes_and_creates_the_folder(tmp_path):
    path = tmp_path / "a" / "b" / "f.txt"
    atomic_write_text(path, "new ü")
    assert path.read_text(encoding="utf-8") == "new ü"
    assert list(path.parent.iterdir()) == [path]


def test_replaces_an_existing_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with atomic_path(path, suffix=".part") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".f.bin.") and tmp.name.endswith(".part")
        assert path.read_bytes() == b"old"  # untouched until the block ends
        tmp.write_bytes(b"new")
    assert path.read_bytes() == b"new"
    assert list(tmp_path.iterdir()) == [path]


def test_exception_in_the_block_keeps_the_old_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="half way"):
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("half way")
    assert path.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_exception_leaves_no_file_when_there_was_none(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "f.bin") as tmp:
            tmp.write_bytes(b"partial")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_failed_rename_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    atomic_write_text(path, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fileio.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]
