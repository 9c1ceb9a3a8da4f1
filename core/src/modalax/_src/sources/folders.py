"""Folders of files as labelled datasets: one rule for every modality.

A dataset root holds either files (an unlabelled dataset) or class folders; the **top-level**
sub-folder of the root is the class of every file below it, at any depth, so
``speakerA/session1/x.wav`` and ``speakerB/session1/y.wav`` get two labels. Labels are the
positions of the class names (sorted folder names unless ``class_names`` fixes them), so the
splits of one dataset agree when the caller passes the training split's names.

Scanning walks the tree once (``os.walk`` cost: one ``stat`` per entry); nothing is read. A
layout that would silently lose files is an error instead: files beside class folders, a
dangling link, a split folder that does not exist.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from modalax._src.errors import ConfigError, DataError

__all__ = ["SPLIT_NAMES", "FolderScan", "normalize_extensions", "scan_class_folders", "split_folder"]

#: Sub-folder names read as splits rather than classes when looking for ``root/<split>``.
SPLIT_NAMES = ("train", "training", "val", "valid", "validation", "dev", "test", "testing", "eval")


@dataclass(frozen=True)
class FolderScan:
    """The files of a folder in record order, their labels (None when unlabelled) and class names."""

    paths: list[Path]
    labels: list[int] | None
    class_names: list[str]


def normalize_extensions(extensions: Iterable[str], *, owner: str) -> tuple[str, ...]:
    """Lower-case extensions with a leading dot: ``"PNG"``, ``".png"`` and ``"png"`` are ``".png"``."""
    if isinstance(extensions, str):
        extensions = (extensions,)
    out: list[str] = []
    for ext in extensions:
        if not isinstance(ext, str) or not ext.strip(". "):
            raise ConfigError(f"{owner}.extensions: got {ext!r}, expected a file extension such as '.png'")
        ext = ext.strip().lower()
        out.append(ext if ext.startswith(".") else "." + ext)
    if not out:
        raise ConfigError(f"{owner}.extensions: got an empty list, expected at least one extension")
    return tuple(dict.fromkeys(out))


def split_folder(root: str | os.PathLike[str], split: str | None, *, owner: str) -> Path:
    """The folder of ``split`` under ``root``.

    ``root/<split>`` when it exists; ``root`` itself when ``split`` is None, or is ``"train"`` and
    ``root`` has no split folders (a plain dataset is its own training split). Any other
    missing split is a ``DataError``: reading the whole root for ``"val"`` would mix the splits.
    """
    base = Path(root)
    if not base.is_dir():
        raise DataError(f"{owner}.root: got {str(base)!r}, expected an existing folder")
    if split is None:
        return base
    if not isinstance(split, str) or not split:
        raise ConfigError(f"{owner}.split: got {split!r}, expected a folder name such as 'train' or None")
    if (base / split).is_dir():
        return base / split
    present = sorted(d.name for d in base.iterdir() if d.is_dir() and d.name.lower() in SPLIT_NAMES)
    if split == "train" and not present:
        return base
    raise DataError(
        f"{owner}.split: got {split!r}, but {str(base / split)!r} does not exist; expected one of the split "
        f"folders {present or '(none)'}" + ("" if present else " (or split=None to read the root as one dataset)")
    )


def _describe(exts: tuple[str, ...]) -> str:
    shown = "/".join(exts[:8])
    return shown if len(exts) <= 8 else f"{shown}/... ({len(exts)} extensions)"


def _files_under(folder: Path, extensions: tuple[str, ...], owner: str) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames.sort()
        for name in filenames:
            path = Path(dirpath) / name
            if path.suffix.lower() not in extensions:
                continue
            if not path.is_file():  # a dangling link (os.walk lists it, stat fails)
                raise DataError(f"{owner}: {str(path)!r} is a broken link or not a regular file; expected a file")
            found.append(path)
    return sorted(found)


def _label_table(
    folders: list[str], class_names: Sequence[str] | Mapping[str, int] | None, root: Path, owner: str
) -> tuple[dict[str, int], list[str]]:
    if class_names is None:
        return {name: i for i, name in enumerate(folders)}, list(folders)
    if isinstance(class_names, Mapping):
        table = dict(class_names)
        bad = {k: v for k, v in table.items() if isinstance(v, bool) or not isinstance(v, int) or v < 0}
        if bad:
            raise ConfigError(f"{owner}.class_to_idx: got {bad}, expected non-negative int labels")
        names = [name for name, _ in sorted(table.items(), key=lambda kv: kv[1])]
    elif isinstance(class_names, str):
        raise ConfigError(f"{owner}.class_names: got the string {class_names!r}, expected a list of class names")
    else:
        names = [str(c) for c in class_names]
        if len(set(names)) != len(names):
            raise ConfigError(f"{owner}.class_names: got duplicates in {names}, expected distinct names")
        table = {name: i for i, name in enumerate(names)}
    unknown = [f for f in folders if f not in table]
    if unknown:
        raise DataError(
            f"{owner}: class folder(s) {unknown} under {str(root)!r} are not in class_names {names}; "
            "expected every class folder to be listed"
        )
    return table, names


def scan_class_folders(
    root: str | os.PathLike[str],
    extensions: Iterable[str],
    *,
    owner: str,
    class_names: Sequence[str] | Mapping[str, int] | None = None,
    labelled: bool | None = None,
    unlabelled_option: str = "labelled=False",
) -> FolderScan:
    """Files under ``root`` with ``extensions``, labelled by their top-level sub-folder.

    ``labelled=None`` labels when ``root`` has sub-folders holding such files; ``True`` requires
    them, ``False`` lists every file unlabelled (``unlabelled_option`` is how the caller's users
    spell that, for the error message). ``class_names`` (a list: label = position; a
    mapping: class to index) fixes the labels; by default they are the sorted folder names.
    """
    root = Path(root)
    exts = normalize_extensions(extensions, owner=owner)
    if not root.is_dir():
        raise DataError(f"{owner}.root: got {str(root)!r}, expected an existing folder")
    if labelled is False:
        paths = _files_under(root, exts, owner)
        if not paths:
            raise DataError(f"{owner}: no {_describe(exts)} files under {str(root)!r}; expected at least one")
        return FolderScan(paths, None, [])
    top = sorted(root.iterdir())
    classes = {d.name: _files_under(d, exts, owner) for d in top if d.is_dir()}
    classes = {name: files for name, files in classes.items() if files}
    loose = [p for p in top if p.suffix.lower() in exts and not p.is_dir()]
    dangling = [p for p in loose if not p.is_file()]
    if dangling:
        raise DataError(f"{owner}: {str(dangling[0])!r} is a broken link or not a regular file; expected a file")
    if not classes:
        if labelled:
            raise DataError(f"{owner}: no class sub-folders with {_describe(exts)} files under {str(root)!r}")
        if not loose:
            raise DataError(
                f"{owner}: no {_describe(exts)} files in {str(root)!r}; expected files or class sub-folders of them"
            )
        return FolderScan(sorted(loose), None, [])
    if loose:
        raise DataError(
            f"{owner}: {len(loose)} file(s) directly in {str(root)!r} beside class folders "
            f"{sorted(classes)} (first: {str(loose[0])!r}); expected every file inside a class folder, "
            f"or {unlabelled_option} to read all files unlabelled"
        )
    table, names = _label_table(sorted(classes), class_names, root, owner)
    paths = []
    labels: list[int] = []
    for name in sorted(classes):
        paths += classes[name]
        labels += [table[name]] * len(classes[name])
    return FolderScan(paths, labels, names)
