"""Tests of proglearn_supcon.datasets (cifar, digits, protocol).

Everything runs offline on tiny files in the official formats written to
``tmp_path``; only the tests marked ``real_data`` read the real CIFAR-100 in
``../shared/data`` (skipped when it is absent).
"""

import hashlib
import io
import os
import pickle
import socket
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from proglearn_supcon import datasets
from proglearn_supcon.datasets import (
    CorruptDataError,
    Task,
    cifar_files,  # private names are patched where they are looked up
    load_cifar,
    load_digits_images,
    load_hard_digits_images,
    split_class_pool,
    task_indices,
    task_sequence,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
from proglearn_supcon.datasets import cifar_checksums  # noqa: E402

REAL_FETCH = cifar_files._fetch  # kept before the autouse fixture replaces it
CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"

# Tiny fake data sets: per class this many training / test images.
FAKE_TRAIN_PER_CLASS, FAKE_TEST_PER_CLASS = 5, 1


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail loudly if anything here tries to open a connection or download."""

    def refuse(*args, **kwargs):
        raise AssertionError("tests must not use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(cifar_files, "_fetch", refuse)
    monkeypatch.delenv(datasets.ENV_VAR, raising=False)


@pytest.fixture(autouse=True)
def fake_checksums(monkeypatch, tmp_path):
    """The fake files have no official MD5 (files without one are not checked); the user cache is the test's."""
    monkeypatch.setattr(cifar_checksums, "FILE_MD5", {})
    monkeypatch.setattr(cifar_checksums, "USER_CACHE", str(tmp_path / "user-cache"))


@pytest.fixture
def fake_sizes(monkeypatch):
    """Make the loader expect the fake data sets' image counts."""
    for name, n_classes in (("cifar100", 100), ("cifar10", 10)):
        sizes = (n_classes * FAKE_TRAIN_PER_CLASS, n_classes * FAKE_TEST_PER_CLASS)
        monkeypatch.setitem(datasets.EXPECTED_SIZES, name, sizes)


# --------------------------------------------------------------------------- #
# Writers of fake data in the official formats
# --------------------------------------------------------------------------- #
def _batch(labels, label_key, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
    return {b"batch_label": b"fake", label_key: [int(v) for v in labels], b"data": data}


def _dump(path, obj):
    with open(path, "wb") as handle:
        # Protocol 2 like the official files (Python 3 adds _codecs.encode for bytes).
        pickle.dump(obj, handle, protocol=2)


def write_fake_cifar(parent: Path, name: str = "cifar100") -> Path:
    """Write the extracted folder of a tiny fake CIFAR under ``parent``; return it."""
    if name == "cifar100":
        folder, n_classes = parent / "cifar-100-python", 100
        folder.mkdir(parents=True)
        train = np.tile(np.arange(n_classes), FAKE_TRAIN_PER_CLASS)
        test = np.arange(n_classes)
        _dump(folder / "train", _batch(train, b"fine_labels", 0))
        _dump(folder / "test", _batch(test, b"fine_labels", 1))
        _dump(folder / "meta", {b"fine_label_names": [b"c%d" % i for i in range(n_classes)]})
    else:
        folder, n_classes = parent / "cifar-10-batches-py", 10
        folder.mkdir(parents=True)
        train = np.tile(np.arange(n_classes), FAKE_TRAIN_PER_CLASS)
        for i, part in enumerate(np.array_split(train, 5), start=1):
            _dump(folder / f"data_batch_{i}", _batch(part, b"labels", i))
        _dump(folder / "test_batch", _batch(np.arange(n_classes), b"labels", 9))
        _dump(folder / "batches.meta", {b"label_names": [b"c%d" % i for i in range(n_classes)]})
    return folder


def write_fake_archive(parent: Path, name: str = "cifar100", extra_members=()) -> Path:
    """Write ``cifar-*-python.tar.gz`` holding a fake extracted folder (plus extra members)."""
    source = parent / "src"
    folder = write_fake_cifar(source, name)
    archive = parent / cifar_files._CIFAR[name].archive
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
        for member, payload in extra_members:
            tar.addfile(member, io.BytesIO(payload) if payload is not None else None)
    return archive


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- #
# load_cifar: formats and locations
# --------------------------------------------------------------------------- #
def test_reads_official_layout_to_nhwc(tmp_path, fake_sizes):
    folder = write_fake_cifar(tmp_path)
    X_train, y_train, X_test, y_test = load_cifar("cifar100", data_dir=tmp_path)
    assert X_train.shape == (500, 32, 32, 3) and X_test.shape == (100, 32, 32, 3)
    assert X_train.dtype == np.uint8 and y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert X_train.flags.c_contiguous
    with open(folder / "train", "rb") as handle:
        raw = pickle.load(handle, encoding="bytes")
    row = raw[b"data"][7]
    # row is channel-major: value of (h, w, c) sits at c*1024 + h*32 + w
    for h, w, c in [(0, 0, 0), (0, 1, 0), (1, 0, 0), (5, 9, 2), (31, 31, 1)]:
        assert X_train[7, h, w, c] == row[c * 1024 + h * 32 + w]
    np.testing.assert_array_equal(y_train, raw[b"fine_labels"])
    np.testing.assert_array_equal(y_test, np.arange(100))


def test_cifar10_batches_are_concatenated(tmp_path, fake_sizes):
    write_fake_cifar(tmp_path, "cifar10")
    X_train, y_train, X_test, y_test = load_cifar("cifar10", data_dir=tmp_path)
    assert X_train.shape == (50, 32, 32, 3) and X_test.shape == (10, 32, 32, 3)
    np.testing.assert_array_equal(y_train, np.tile(np.arange(10), 5))


def test_data_dir_may_be_the_extracted_folder(tmp_path, fake_sizes):
    folder = write_fake_cifar(tmp_path)
    a = load_cifar("cifar100", data_dir=folder)
    b = load_cifar("cifar100", data_dir=str(tmp_path))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_env_var_then_default_and_explicit_wins(tmp_path, fake_sizes, monkeypatch):
    write_fake_cifar(tmp_path / "env")
    monkeypatch.setenv(datasets.ENV_VAR, str(tmp_path / "env"))
    assert load_cifar()[0].shape[0] == 500
    # An explicit data_dir wins over the environment variable.
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        load_cifar(data_dir=tmp_path / "empty")
    # Without both: ~/.cache/proglearn_supcon
    monkeypatch.delenv(datasets.ENV_VAR)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write_fake_cifar(tmp_path / "home" / ".cache" / "proglearn_supcon")
    assert load_cifar()[0].shape[0] == 500


def test_missing_data_says_where_and_how(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_cifar("cifar100", data_dir=tmp_path / "nowhere")
    message = str(info.value)
    for needle in (str(tmp_path / "nowhere"), "cifar-100-python", "data_dir", datasets.ENV_VAR, "download=True"):
        assert needle in message
    assert not (tmp_path / "nowhere").exists()  # nothing created without download=True


def test_incomplete_folder(tmp_path, fake_sizes, monkeypatch):
    folder = write_fake_cifar(tmp_path)
    (folder / "test").unlink()
    with pytest.raises(FileNotFoundError, match=r"exists but lacks \['test'\]"):
        load_cifar("cifar100", data_dir=tmp_path)
    # With an archive beside it, the half folder is not silently mixed with it.
    archive = write_fake_archive(tmp_path / "other")
    archive = archive.rename(tmp_path / archive.name)
    monkeypatch.setitem(datasets.ARCHIVE_MD5, "cifar100", md5(archive))
    with pytest.raises(CorruptDataError, match="delete that folder"):
        load_cifar("cifar100", data_dir=tmp_path)


def test_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="cifar100"):
        load_cifar("mnist", data_dir=tmp_path)


# --------------------------------------------------------------------------- #
# Archives and downloads
# --------------------------------------------------------------------------- #
def test_archive_is_checked_and_extracted(tmp_path, fake_sizes, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    archive = write_fake_archive(root)
    monkeypatch.setitem(datasets.ARCHIVE_MD5, "cifar100", md5(archive))
    X_train, *_ = load_cifar("cifar100", data_dir=root)
    assert X_train.shape == (500, 32, 32, 3)
    assert (root / "cifar-100-python" / "train").is_file()
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temp folders left
    # Second call uses the extracted folder (and would not need the archive).
    archive.unlink()
    assert load_cifar("cifar100", data_dir=root)[0].shape == X_train.shape


def test_archive_with_wrong_md5_is_refused(tmp_path, monkeypatch):
    archive = write_fake_archive(tmp_path)
    monkeypatch.setitem(datasets.ARCHIVE_MD5, "cifar100", "0" * 32)
    with pytest.raises(CorruptDataError, match="MD5") as info:
        load_cifar("cifar100", data_dir=tmp_path)
    assert str(archive) in str(info.value) and "Delete" in str(info.value)
    assert not (tmp_path / "cifar-100-python").exists()


def test_truncated_archive_is_refused(tmp_path, monkeypatch):
    archive = write_fake_archive(tmp_path)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    monkeypatch.setitem(datasets.ARCHIVE_MD5, "cifar100", md5(archive))  # past the MD5 check
    with pytest.raises(CorruptDataError, match="not a readable") as info:
        load_cifar("cifar100", data_dir=tmp_path)
    assert str(archive) in str(info.value)
    assert not (tmp_path / "cifar-100-python").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _member(name, kind=tarfile.REGTYPE, payload=b"x"):
    info = tarfile.TarInfo(name)
    info.type = kind
    if kind == tarfile.SYMTYPE:
        info.linkname = "/etc/passwd"
        payload = None
    else:
        info.size = len(payload)
    return info, payload


@pytest.mark.parametrize(
    "member",
    [
        _member("../evil.txt"),
        _member("cifar-100-python/../../evil.txt"),
        _member("/tmp/evil.txt"),
        _member("cifar-100-python/link", kind=tarfile.SYMTYPE),
    ],
    ids=["parent", "nested-parent", "absolute", "symlink"],
)
def test_unsafe_archive_members_are_refused(tmp_path, monkeypatch, member):
    root = tmp_path / "a" / "b"
    root.mkdir(parents=True)
    archive = write_fake_archive(root, extra_members=[member])
    monkeypatch.setitem(datasets.ARCHIVE_MD5, "cifar100", md5(archive))
    with pytest.raises(CorruptDataError, match="refusing to extract"):
        load_cifar("cifar100", data_dir=root)
    assert not (tmp_path / "a" / "evil.txt").exists() and not (root / "cifar-100-python").exists()


def test_download_fetches_checks_and_renames(tmp_path, fake_sizes, monkeypatch):
    archive = write_fake_archive(tmp_path / "build")
    payload = archive.read_bytes()
    monkeypatch.setitem(datasets.ARCHIVE_MD5, "cifar100", md5(archive))
    calls = []

    def fake_fetch(url, dest):
        calls.append(url)
        assert Path(dest).parent == target and Path(dest).name != "cifar-100-python.tar.gz"
        Path(dest).write_bytes(payload)

    monkeypatch.setattr(cifar_files, "_fetch", fake_fetch)
    target = tmp_path / "new" / "data"
    X_train, *_ = load_cifar("cifar100", data_dir=target, download=True)
    assert calls == [CIFAR100_URL]
    assert X_train.shape == (500, 32, 32, 3)
    assert (target / "cifar-100-python.tar.gz").read_bytes() == payload
    assert not [p for p in target.iterdir() if p.name.startswith(".")]
    # Found locally now: no second download.
    load_cifar("cifar100", data_dir=target, download=True)
    assert len(calls) == 1


def test_download_with_wrong_checksum_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(datasets.ARCHIVE_MD5, "cifar100", "0" * 32)
    monkeypatch.setattr(cifar_files, "_fetch", lambda url, dest: Path(dest).write_bytes(b"not an archive"))
    with pytest.raises(CorruptDataError, match="MD5.*download=True"):
        load_cifar("cifar100", data_dir=tmp_path, download=True)
    assert list(tmp_path.iterdir()) == []


def test_download_network_failure_is_explained(tmp_path, monkeypatch):
    def offline(url, dest):
        raise OSError("network unreachable")

    monkeypatch.setattr(cifar_files, "_fetch", offline)
    with pytest.raises(OSError, match="could not download CIFAR-100"):
        load_cifar("cifar100", data_dir=tmp_path, download=True)
    assert list(tmp_path.iterdir()) == []


def test_fetch_refuses_plain_http(tmp_path):
    # The real _fetch; it must refuse before opening any connection.
    with pytest.raises(ValueError, match="HTTPS"):
        REAL_FETCH("http://example.com/x.tar.gz", tmp_path / "x")


# --------------------------------------------------------------------------- #
# Damaged or foreign pickles
# --------------------------------------------------------------------------- #
def test_truncated_pickle_names_the_file(tmp_path, fake_sizes):
    folder = write_fake_cifar(tmp_path)
    train = folder / "train"
    train.write_bytes(train.read_bytes()[:5000])
    with pytest.raises(CorruptDataError) as info:
        load_cifar("cifar100", data_dir=tmp_path)
    assert str(train) in str(info.value) and "download=True" in str(info.value)


@pytest.mark.parametrize(
    "batch, match",
    [
        ({b"data": np.zeros((100, 3000), np.uint8), b"fine_labels": list(range(100))}, "3072"),
        ({b"data": np.zeros((100, 3072), np.float32), b"fine_labels": list(range(100))}, "uint8"),
        ({b"data": np.zeros((100, 3072), np.uint8), b"fine_labels": list(range(99))}, "99 labels"),
        ({b"data": np.zeros((100, 3072), np.uint8), b"fine_labels": [100] * 100}, "0..99"),
        ({b"data": np.zeros((100, 3072), np.uint8), b"labels": list(range(100))}, "fine_labels"),
        ([1, 2, 3], "lacks"),
    ],
)
def test_malformed_pickles_are_refused(tmp_path, fake_sizes, batch, match):
    folder = write_fake_cifar(tmp_path)
    _dump(folder / "test", batch)
    with pytest.raises(CorruptDataError, match=match):
        load_cifar("cifar100", data_dir=tmp_path)


def test_pickle_cannot_run_code(tmp_path, fake_sizes):
    folder = write_fake_cifar(tmp_path)
    _dump(folder / "test", {b"data": os.getcwd, b"fine_labels": []})
    with pytest.raises(CorruptDataError, match="unexpected global"):
        load_cifar("cifar100", data_dir=tmp_path)


def test_wrong_image_count_is_not_used(tmp_path):
    write_fake_cifar(tmp_path)  # 500/100 images while 50000/10000 are expected
    with pytest.raises(CorruptDataError, match="500 training and 100 test.*50000 and 10000"):
        load_cifar("cifar100", data_dir=tmp_path)


# --------------------------------------------------------------------------- #
# The split protocol on synthetic label pools
# --------------------------------------------------------------------------- #
N_CLASSES, POOL = 6, 60  # 60 images per class: folds of 10, training pool 50


def synthetic_labels():
    """Classes interleaved (so class members are not contiguous), pool 'train then test'."""
    return np.tile(np.arange(N_CLASSES), POOL)


def test_train_and_test_are_disjoint_and_balanced():
    labels = synthetic_labels()
    for shift in range(1, 7):
        for slot in range(5):
            for classes, train, test in task_indices(labels, 3, 2, 20, POOL, shift=shift, slot=slot):
                assert not set(train) & set(test)
                assert Counter(labels[train]) == {c: 10 for c in classes}
                assert Counter(labels[test]) == {c: 10 for c in classes}
                assert train.dtype == np.int64 and test.dtype == np.int64


def test_task_t_holds_consecutive_classes():
    tasks = task_indices(synthetic_labels(), 3, 2, 20, POOL)
    assert [c.tolist() for c, _, _ in tasks] == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(ValueError, match="need 8 classes"):
        task_indices(synthetic_labels(), 4, 2, 20, POOL)


def test_shifts_put_every_image_in_test_exactly_once():
    labels = synthetic_labels()
    counts = Counter()
    for shift in range(1, 7):
        _, test = split_class_pool(labels, range(N_CLASSES), POOL, 10, shift=shift)
        counts.update(test.tolist())
    assert set(counts) == set(range(len(labels))) and set(counts.values()) == {1}


def test_roll_direction_matches_proglearn():
    labels = synthetic_labels()
    members = np.flatnonzero(labels == 3)
    for shift in range(1, 7):
        rolled = np.roll(members, (shift - 1) * 10)
        train, test = split_class_pool(labels, [3], POOL, 10, shift=shift, slot=2)
        np.testing.assert_array_equal(test, rolled[50:])
        np.testing.assert_array_equal(train, rolled[20:30])
    # Shift 1 tests on the last sixth of the pool: the original test images.
    np.testing.assert_array_equal(split_class_pool(labels, [3], POOL, 10)[1], members[50:])


def test_slots_are_disjoint_blocks_of_the_training_pool():
    labels = synthetic_labels()
    for shift in (1, 4):
        blocks = [split_class_pool(labels, [0, 1], POOL, 10, shift=shift, slot=s) for s in range(5)]
        trains = [set(b[0]) for b in blocks]
        assert all(not trains[i] & trains[j] for i in range(5) for j in range(i + 1, 5))
        pool = set().union(*trains)
        assert len(pool) == 100 and not pool & set(blocks[0][1])  # 5/6 of 2 classes x 60


def test_pool_is_first_images_of_each_class():
    # Unequal classes, as in digits: only the first pool_size images of each count.
    labels = np.array([0] * 13 + [1] * 12 + [0] * 2)
    train, test = split_class_pool(labels, [0, 1], 12, 2, shift=1, slot=0)
    np.testing.assert_array_equal(test, [10, 11, 23, 24])
    np.testing.assert_array_equal(train, [0, 1, 13, 14])
    _, test6 = split_class_pool(labels, [0], 12, 2, shift=6)
    np.testing.assert_array_equal(test6, [0, 1])  # rolled by 10: the first sixth


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(shift=0), "shift must be in 1..6"),
        (dict(shift=7), "shift must be in 1..6"),
        (dict(slot=-1), r"slot must be in 0..4"),
        (dict(slot=5), r"slot must be in 0..4"),
        (dict(pool_size=64), "multiple of 6"),
        (dict(pool_size=66), "fewer than pool_size"),
        (dict(n_per_class=51), "do not fit"),
        (dict(n_per_class=0), "positive"),
    ],
)
def test_split_validation(kwargs, match):
    args = dict(classes=[0, 1], pool_size=POOL, n_per_class=10, shift=1, slot=0) | kwargs
    with pytest.raises(ValueError, match=match):
        split_class_pool(synthetic_labels(), **args)


def test_task_indices_validation():
    with pytest.raises(ValueError, match="multiple of classes_per_task"):
        task_indices(synthetic_labels(), 2, 2, 21, POOL)
    with pytest.raises(ValueError, match="positive"):
        task_indices(synthetic_labels(), 0, 2, 20, POOL)
    with pytest.raises(TypeError):
        task_indices(synthetic_labels(), 2.5, 2, 20, POOL)


# --------------------------------------------------------------------------- #
# Digits (offline) and task_sequence
# --------------------------------------------------------------------------- #
def test_digits_images():
    X, y = load_digits_images()
    assert X.shape == (1797, 32, 32, 3) and X.dtype == np.uint8
    assert y.shape == (1797,) and y.dtype == np.int64 and set(y.tolist()) == set(range(10))
    assert X.max() == 255 and X.min() == 0
    assert (X[..., 0] == X[..., 1]).all() and (X[..., 0] == X[..., 2]).all()
    from sklearn.datasets import load_digits

    X8, _ = load_digits_images(size=8)
    np.testing.assert_array_equal(X8[..., 0], np.round(load_digits().images * 255 / 16))
    Xn, _ = load_digits_images(size=16, mode="nearest")
    np.testing.assert_array_equal(Xn[:, ::2, ::2], X8[:, :, :])
    with pytest.raises(ValueError, match="mode"):
        load_digits_images(mode="bicubic")


@pytest.mark.slow
def test_hard_digits_images():
    X, y = load_hard_digits_images()
    clean, y_clean = load_digits_images()
    assert X.shape == clean.shape and X.dtype == np.uint8
    np.testing.assert_array_equal(y, y_clean)
    assert (X[..., 0] == X[..., 2]).all()
    np.testing.assert_array_equal(X, load_hard_digits_images()[0])  # fixed seed: the same data set
    assert not np.array_equal(X, load_hard_digits_images(random_state=1)[0])
    # no distortion gives the clean digits back (up to rounding of the identity resampling)
    plain, _ = load_hard_digits_images(max_rotation=0, max_translation=0, noise_std=0)
    assert np.abs(plain.astype(int) - clean.astype(int)).max() <= 1
    # distorted: far from the clean images, and the noise reaches the empty background
    assert np.abs(X.astype(int) - clean.astype(int)).mean() > 40
    assert (X[clean == 0] > 0).mean() > 0.3
    with pytest.raises(ValueError, match="noise_std"):
        load_hard_digits_images(noise_std=-1)
    tasks = task_sequence("digits-hard", n_tasks=2)
    assert [t.classes.tolist() for t in tasks] == [[0, 1], [2, 3]]
    assert tasks[0].X_train.shape == (100, 32, 32, 3) and tasks[0].X_test.shape == (58, 32, 32, 3)


def test_digits_sequence_offline():
    tasks = task_sequence("digits", shift=3, slot=1)
    assert len(tasks) == 5 and all(isinstance(t, Task) for t in tasks)
    for t, task in enumerate(tasks):
        assert task.task_id == t
        assert task.classes.tolist() == [2 * t, 2 * t + 1]
        # pool 174 per class: test 29, training pool 145 -> slots 0..1 of 50
        assert task.X_train.shape == (100, 32, 32, 3) and task.X_test.shape == (58, 32, 32, 3)
        assert task.X_train.dtype == np.uint8 and task.y_train.dtype == np.int64
        assert Counter(task.y_train.tolist()) == {2 * t: 50, 2 * t + 1: 50}
        assert Counter(task.y_test.tolist()) == {2 * t: 29, 2 * t + 1: 29}
    with pytest.raises(ValueError, match="slot must be in 0..1"):
        task_sequence("digits", slot=2)


def test_digits_sequence_matches_pure_indices():
    X, y = load_digits_images()
    tasks = task_sequence("digits", n_tasks=2, classes_per_task=3, n_train_per_task=30, shift=2, slot=4)
    for task, (classes, train, test) in zip(tasks, task_indices(y, 2, 3, 30, 174, shift=2, slot=4)):
        np.testing.assert_array_equal(task.classes, classes)
        np.testing.assert_array_equal(task.X_train, X[train])
        np.testing.assert_array_equal(task.X_test, X[test])
        np.testing.assert_array_equal(task.y_test, y[test])


def test_task_sequence_with_fake_cifar(tmp_path, fake_sizes):
    # Fake CIFAR-10: 6 images per class (5 train + 1 test) -> folds of 1 image.
    folder = write_fake_cifar(tmp_path, "cifar10")
    X_train, y_train, X_test, y_test = load_cifar("cifar10", data_dir=tmp_path)
    seen_in_test = []
    for shift in range(1, 7):
        tasks = task_sequence("cifar10", n_train_per_task=2, shift=shift, slot=4, data_dir=tmp_path)
        assert [t.classes.tolist() for t in tasks] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
        assert all(t.X_train.shape == (2, 32, 32, 3) and t.X_test.shape == (2, 32, 32, 3) for t in tasks)
        seen_in_test.append(tasks[0].X_test[0])
    # Shift 1 tests on the official test image of class 0, shifts 2..6 on its
    # training images from the last to the first (np.roll moves the pool right).
    np.testing.assert_array_equal(seen_in_test[0], X_test[y_test == 0][0])
    np.testing.assert_array_equal(np.stack(seen_in_test[1:]), X_train[y_train == 0][::-1])
    # All test images in class 0: classes 1..9 keep 5 images, too few for six folds.
    _dump(folder / "test_batch", _batch([0] * 10, b"labels", 9))
    with pytest.raises(ValueError, match="smallest class has 5 images"):
        task_sequence("cifar10", data_dir=tmp_path)


def test_rotation_tasks_pool_cifar_training_and_test_images(tmp_path, fake_sizes):
    # Fake CIFAR-100: 6 images per class (5 train + 1 test), pooled as the rotation protocol does.
    write_fake_cifar(tmp_path, "cifar100")
    X_train, y_train, X_test, y_test = load_cifar("cifar100", data_dir=tmp_path)
    pooled_X, pooled_y = np.concatenate([X_train, X_test]), np.concatenate([y_train, y_test])
    task1, task2 = datasets.rotation_tasks("cifar100", n_train_per_task=20, n_test_per_class=2, data_dir=tmp_path)
    assert task1.classes.tolist() == list(range(10))  # classes 0-9 of the 100
    first, second, test = datasets.rotation_indices(pooled_y, range(10), 2, 2, random_state=0)
    assert len(set(first) | set(second) | set(test)) == 60  # every image of classes 0-9, once
    np.testing.assert_array_equal(task1.X_train, pooled_X[first])
    np.testing.assert_array_equal(task2.X_train, pooled_X[second])
    np.testing.assert_array_equal(task1.X_test, pooled_X[test])
    np.testing.assert_array_equal(task1.y_test, pooled_y[test])
    with pytest.raises(ValueError, match="class 0 has 6 images"):
        datasets.rotation_tasks("cifar100", data_dir=tmp_path)  # the default 250 + 250 + 100 per class


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(name="imagenet"), "unknown data set"),
        (dict(name="digits", shift=0), "shift must be in 1..6"),
        (dict(name="digits", n_tasks=6), "need 12 classes"),
        (dict(name="digits", n_train_per_task=101), "multiple of classes_per_task"),
        (dict(name="digits", n_train_per_task=400), "do not fit"),
    ],
)
def test_task_sequence_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        task_sequence(**kwargs)


def test_task_sequence_cifar_needs_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        task_sequence("cifar100", data_dir=tmp_path)


# --------------------------------------------------------------------------- #
# Real CIFAR-100 (../shared/data), skipped when absent
# --------------------------------------------------------------------------- #
needs_cifar100 = pytest.mark.skipif(
    not (SHARED_DATA / "cifar-100-python" / "train").is_file(),
    reason=f"real CIFAR-100 not found at {SHARED_DATA / 'cifar-100-python'} (a fresh clone has no ../shared)",
)


@pytest.fixture(scope="module")
def real_cifar100():
    return load_cifar("cifar100", data_dir=SHARED_DATA)


@pytest.mark.slow
@pytest.mark.real_data
@needs_cifar100
def test_real_cifar100(real_cifar100):
    X_train, y_train, X_test, y_test = real_cifar100
    assert X_train.shape == (50000, 32, 32, 3) and X_test.shape == (10000, 32, 32, 3)
    assert X_train.dtype == np.uint8 and y_train.dtype == np.int64
    assert (np.bincount(y_train, minlength=100) == 500).all()
    assert (np.bincount(y_test, minlength=100) == 100).all()
    sums = SHARED_DATA / "cifar-100-python" / "MD5SUMS"
    if sums.is_file():  # ~0.5 s for 186 MB
        for line in sums.read_text().splitlines():
            digest, name = line.split()
            assert md5(SHARED_DATA / "cifar-100-python" / name) == digest, name


@pytest.mark.slow
@pytest.mark.real_data
@needs_cifar100
def test_real_cifar100_task_sequence(real_cifar100):
    X_train, y_train, X_test, y_test = real_cifar100
    tasks = task_sequence("cifar100", shift=1, data_dir=SHARED_DATA)
    assert len(tasks) == 10
    for t, task in enumerate(tasks):
        assert task.classes.tolist() == list(range(10 * t, 10 * t + 10))
        assert task.X_train.shape == (500, 32, 32, 3) and task.X_test.shape == (1000, 32, 32, 3)
        assert (np.bincount(task.y_train, minlength=100)[task.classes] == 50).all()
    # Shift 1 rolls by 0: class 0's test set is the official test images of class 0, in
    # order, and slot 0 its first 50 training images.
    first = tasks[0]
    np.testing.assert_array_equal(first.X_test[first.y_test == 0], X_test[y_test == 0])
    np.testing.assert_array_equal(first.X_train[first.y_train == 0], X_train[y_train == 0][:50])


# --------------------------------------------------------------------------- #
# The extracted files checked against their MD5s (issue 29)
# --------------------------------------------------------------------------- #
def _register(monkeypatch, folder: Path) -> None:
    """Make the fake CIFAR-100 files in ``folder`` the "official" ones."""
    monkeypatch.setattr(cifar_checksums, "FILE_MD5", {"cifar100": {f: md5(folder / f) for f in ("train", "test")}})


def test_a_bit_flipped_file_is_refused_unless_told_not_to_verify(tmp_path, monkeypatch, fake_sizes):
    folder = write_fake_cifar(tmp_path)
    _register(monkeypatch, folder)
    assert load_cifar("cifar100", data_dir=tmp_path)[0].shape[0] == 500
    data = bytearray((folder / "train").read_bytes())
    data[-100] ^= 1  # one bit of one pixel: still a valid pickle
    (folder / "train").write_bytes(bytes(data))
    with pytest.raises(datasets.CorruptDataError, match=r"train has MD5 [0-9a-f]{32}, expected .*--no-verify"):
        load_cifar("cifar100", data_dir=tmp_path)
    assert load_cifar("cifar100", data_dir=tmp_path, verify=False)[0].shape[0] == 500


def test_each_file_is_checked_once_and_the_cache_falls_back_to_the_user_folder(tmp_path, monkeypatch, fake_sizes):
    folder = write_fake_cifar(tmp_path / "data")
    _register(monkeypatch, folder)
    (folder / cifar_checksums.CACHE_NAME).mkdir()  # the data folder's cache cannot be written (as if read-only)
    hashed = []
    real_md5 = cifar_checksums.file_md5
    monkeypatch.setattr(cifar_checksums, "file_md5", lambda path: hashed.append(path.name) or real_md5(path))
    load_cifar("cifar100", data_dir=folder)
    load_cifar("cifar100", data_dir=folder)
    assert sorted(hashed) == ["test", "train"]  # once each
    assert (tmp_path / "user-cache" / cifar_checksums.CACHE_NAME).is_file()
    os.utime(folder / "test", ns=(1, 1))  # a file that changed is checked again
    load_cifar("cifar100", data_dir=folder)
    assert sorted(hashed) == ["test", "test", "train"]
