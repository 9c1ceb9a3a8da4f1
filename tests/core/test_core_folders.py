"""Folder listings: torchvision's order and labels, and every way a walk could lose or repeat files, refused.

``test_core_torch.py`` compares with the real torchvision (``nox -s torch``); here the reference
is torchvision's documented algorithm (``sorted(os.walk(class_dir, followlinks=True))``, each
folder's files sorted, ``name.lower().endswith(extensions)``) run on the same trees.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modalax import ConfigError, DataError
from modalax._src.sources import folders as folders_module
from modalax.plugin import scan_class_folders

from .folder_fixtures import nested_tree, touch

EXTS = (".png", ".jpg", ".jpeg")


def walk_reference(root: Path, exts: tuple[str, ...]) -> tuple[list[str], list[int], list[str]]:
    """torchvision's find_classes + make_dataset, written from its documentation."""
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    paths, labels = [], []
    for label, name in enumerate(classes):
        for folder, _, files in sorted(os.walk(os.path.join(root, name), followlinks=True)):
            for file in sorted(files):
                if os.path.join(folder, file).lower().endswith(exts):
                    paths.append(os.path.join(folder, file))
                    labels.append(label)
    return paths, labels, classes


def test_files_beside_sub_folders_come_first_as_in_torchvision(tmp_path: Path) -> None:
    touch(tmp_path, "cls/zebra.png", "cls/sub/a.png", "cls/sub-b/c.png", "cls/sub/x/b.png", "cls/Sub/d.PNG", "z/.e.png")
    scan = scan_class_folders(tmp_path, [".png"], owner="T")
    # Folders in the string order of their paths ("cls/sub-b" < "cls/sub/x": '-' < '/'), files by name.
    assert [p.relative_to(tmp_path).as_posix() for p in scan.paths] == [
        "cls/zebra.png",
        "cls/Sub/d.PNG",
        "cls/sub/a.png",
        "cls/sub-b/c.png",
        "cls/sub/x/b.png",
        "z/.e.png",
    ]
    assert scan.labels == [0] * 5 + [1] and scan.class_names == ["cls", "z"]


def test_nested_tree_with_links_matches_the_reference_walk(tmp_path: Path) -> None:
    root = nested_tree(tmp_path)
    paths, labels, classes = walk_reference(root, EXTS)
    scan = scan_class_folders(root, EXTS, owner="T")
    assert [str(p) for p in scan.paths] == paths and scan.labels == labels and scan.class_names == classes
    assert len(paths) == 247
    names = [p.relative_to(root).as_posix() for p in scan.paths]
    assert names.count("cat/also/o1.png") == names.count("cat/again/o1.png") == 1  # each link followed once
    assert "dog/linked/deeper/o2.png" in names and "dog/pic.png" in names
    assert sorted(str(p) for p in scan.paths) != paths  # sorting the full paths would be another order


def test_empty_classes_are_refused_or_kept_with_their_labels(tmp_path: Path) -> None:
    touch(tmp_path, "a/1.png", "b/notes.txt", "c/2.png", "d/sub/3.png")
    (tmp_path / "e").mkdir()
    with pytest.raises(DataError, match=r"found no valid file for the classes b, e under .*allow_empty=True"):
        scan_class_folders(tmp_path, [".png"], owner="T")
    scan = scan_class_folders(tmp_path, [".png"], owner="T", allow_empty=True)
    assert scan.class_names == ["a", "b", "c", "d", "e"] and scan.labels == [0, 2, 3]
    assert scan.empty_classes == ("b", "e")
    named = scan_class_folders(tmp_path, [".png"], owner="T", allow_empty=True, class_names=["e", "d", "c", "b", "a"])
    assert named.labels == [4, 2, 1] and [named.class_names[i] for i in named.labels] == ["a", "c", "d"]


def deep_folder(base: Path, length: int) -> str:
    """A chain of 200-character folders under ``base`` whose path is at least ``length`` bytes, made
    through directory descriptors (a path over the system's limit cannot be made by name)."""
    fd = os.open(base, os.O_RDONLY)
    path = str(base)
    try:
        while len(os.fsencode(path)) < length:
            name = "d" * min(200, max(1, length - len(path) - 1))
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd, path = child, f"{path}/{name}"
        os.close(os.open("x.png", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    return path


def loop_to_class(root: Path) -> None:
    touch(root, "a/1.png", "a/b/2.png")
    os.symlink(root / "a", root / "a" / "b" / "back")


def loop_to_root(root: Path) -> None:
    touch(root, "a/1.png", "c/3.png")
    os.symlink(root, root / "c" / "up")


def long_folder(root: Path) -> None:
    touch(root, "a/1.png")
    deep_folder(root / "a", 4200)


def long_file(root: Path) -> None:
    touch(root, "a/1.png")
    folder = deep_folder(root / "a", 4000)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.close(os.open("f" * 120 + ".png", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


def dangling(root: Path) -> None:
    touch(root, "a/1.png", "a/sub/1.png")
    os.symlink(root / "gone.png", root / "a" / "sub" / "2.png")


def layout(*files: str) -> Callable[[Path], Any]:
    return lambda root: touch(root, *files)


@pytest.mark.parametrize(
    ("build", "kwargs", "error", "message"),
    [
        (layout("a/1.png", "b/x.txt"), {}, DataError, r"found no valid file for the classes b under"),
        (layout("a/1.png", "c/2.png"), {"class_names": {"a": 0, "c": 5}}, ConfigError, r"got labels \[0, 5\] for 2"),
        (layout("a/1.png", "c/2.png"), {"class_names": {"a": 1, "c": 1}}, ConfigError, r"got labels \[1, 1\] for 2"),
        (layout("a/1.png"), {"class_names": {"a": -1}}, ConfigError, r"class_to_idx: got \{'a': -1\}"),
        (layout("a/1.png"), {"allow_empty": "yes"}, ConfigError, r"T.allow_empty: got 'yes', expected a bool"),
        (loop_to_class, {}, DataError, r"a/b/back' links back to '.*/a', a folder above it \(a loop\)"),
        (loop_to_root, {}, DataError, r"c/up' links back to '.*', a folder above it \(a loop\)"),
        (loop_to_root, {"labelled": False}, DataError, r"c/up' links back to"),
        (long_folder, {}, DataError, r"cannot list '.*\.\.\..*': its path is longer than this system allows"),
        (long_file, {}, DataError, r"f{20,}\.png' is longer than this system allows \(\d+ bytes, limit \d+\)"),
        (dangling, {}, DataError, r"sub/2\.png' is a broken link or not a regular file"),
    ],
)
def test_walks_that_would_lose_or_repeat_files_are_refused(
    tmp_path: Path, build: Callable[[Path], Any], kwargs: dict[str, Any], error: type, message: str
) -> None:
    build(tmp_path)
    with pytest.raises(error, match=message):
        scan_class_folders(tmp_path, [".png"], owner="T", **kwargs)


@pytest.mark.parametrize("where", ["b", "b/deep"])
def test_an_unlistable_folder_is_named_not_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Simulated (root reads every folder): listing ``where`` fails with EACCES."""
    touch(tmp_path, "a/1.png", "b/2.png", "b/deep/3.png", "c/4.png")
    blocked = os.fspath(tmp_path / where)
    real = os.scandir

    def scandir(path: Any) -> Any:
        if os.fspath(path) == blocked:
            raise PermissionError(errno.EACCES, "Permission denied", blocked)
        return real(path)

    monkeypatch.setattr(folders_module.os, "scandir", scandir)
    with pytest.raises(DataError, match=rf"cannot list '.*/{where}' \(Permission denied\); expected a readable"):
        scan_class_folders(tmp_path, [".png"], owner="T")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads folders whatever their mode")
@pytest.mark.parametrize("where", ["b", "b/deep"])
def test_a_folder_without_read_permission_is_named(tmp_path: Path, where: str) -> None:
    touch(tmp_path, "a/1.png", "b/2.png", "b/deep/3.png", "c/4.png")
    os.chmod(tmp_path / where, 0)
    try:
        with pytest.raises(DataError, match=rf"cannot list '.*/{where}' \(Permission denied\)"):
            scan_class_folders(tmp_path, [".png"], owner="T")
    finally:
        os.chmod(tmp_path / where, 0o755)
