"""Folders of files as labelled datasets: one rule for every modality, torchvision's.

A dataset root holds either files (an unlabelled dataset) or class folders; the **top-level**
sub-folder of the root is the class of every file below it, at any depth, so
``speakerA/session1/x.wav`` and ``speakerB/session1/y.wav`` get two labels. Labels are the
positions of the class names (sorted folder names unless ``class_names`` fixes them), so the
splits of one dataset agree when the caller passes the training split's names.

The listing is torchvision's ``ImageFolder``/``DatasetFolder`` (``find_classes`` and
``make_dataset``) record for record: classes are every sub-folder of the root (links
followed), sorted by name; within a class, the folders in the string order of their paths
(``cls`` before ``cls/sub``, ``cls/sub-b`` before ``cls/sub/x``), each folder's files sorted by
name; a file counts when its lower-cased name ends with one of the extensions. A class
folder with no such file is an error, as in torchvision, unless ``allow_empty=True`` keeps its
label reserved.

Scanning costs one ``stat`` per entry (one ``os.scandir`` per folder); nothing is read. Where
torchvision would silently lose or repeat files, this is an error naming the path instead:
files beside class folders, a dangling link, a folder that cannot be listed (permissions), a
path longer than the system's limit, a link that loops back to a folder above it, a split
folder that does not exist.

A root may be a URL (``modalax._src.remote``): the tree is then listed in one recursive
listing (object stores have no folders, only prefixes, hence no links or empty folders) and
ordered by the same rule: files by their folder's path, then by name.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modalax._src.errors import ConfigError, DataError
from modalax._src.remote import RemotePath, as_path

__all__ = ["SPLIT_NAMES", "FolderScan", "list_files", "normalize_extensions", "scan_class_folders", "split_folder"]

#: Sub-folder names read as splits rather than classes when looking for ``root/<split>``.
SPLIT_NAMES = ("train", "training", "val", "valid", "validation", "dev", "test", "testing", "eval")


@dataclass(frozen=True)
class FolderScan:
    """The files of a folder in record order, their labels (None when unlabelled) and class names.

    ``empty_classes`` lists the class folders that held no file (only with ``allow_empty=True``).
    """

    paths: list[Any]
    labels: list[int] | None
    class_names: list[str]
    empty_classes: tuple[str, ...] = ()


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


def _unreadable(owner: str, path: str, exc: OSError) -> DataError:
    if exc.errno == errno.ENAMETOOLONG:
        return DataError(
            f"{owner}: cannot list {_short(path)!r}: its path is longer than this system allows "
            f"({len(os.fsencode(path))} bytes); expected shorter folder names (or a link to a shorter path)"
        )
    return DataError(
        f"{owner}: cannot list {path!r} ({exc.strerror or exc}); expected a readable folder "
        "(fix its permissions, or move it out of the dataset)"
    )


def _short(path: str) -> str:
    return path if len(path) <= 200 else f"{path[:96]}...{path[-96:]}"


def _scandir(owner: str, path: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError as exc:
        raise _unreadable(owner, path, exc) from exc


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows links, as os.walk(followlinks=True) does
    except OSError:
        return False


def _identity(owner: str, path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _unreadable(owner, path, exc) from exc
    return st.st_dev, st.st_ino


def _path_max(root: str) -> int:
    try:
        return os.pathconf(root, "PC_PATH_MAX")
    except (OSError, ValueError):
        return 4096


def _remote_files(folder: RemotePath, extensions: tuple[str, ...]) -> list[RemotePath]:
    """Files below a remote folder with ``extensions``, in torchvision's order (folder path, then name)."""
    found = [p for p in folder.walk_files() if p.name.lower().endswith(extensions)]
    return sorted(found, key=lambda p: (p.parent.url, p.name))


def _remote_entries(folder: RemotePath) -> list[tuple[str, bool]]:
    return [(p.name, p.is_dir()) for p in folder.iterdir()]


def list_files(
    folder: str | os.PathLike[str] | RemotePath,
    extensions: tuple[str, ...],
    *,
    owner: str,
    above: Mapping[tuple[int, int], str] | None = None,
) -> list[Any]:
    """Files under ``folder`` whose lower-cased name ends with one of ``extensions``, in torchvision's order.

    That order is ``sorted(os.walk(folder, followlinks=True))`` with each folder's files sorted:
    folders by the string of their path, files by name. Links are followed once; a link to a
    folder above it (``above``: identities of the folders enclosing ``folder``) is a loop and a
    ``DataError``, as are folders that cannot be listed, paths over the system's limit and
    dangling links with a matching name. A URL is listed as the module docstring says.
    """
    remote = as_path(folder)
    if isinstance(remote, RemotePath):
        return _remote_files(remote, extensions)
    top = os.fspath(remote)
    limit = _path_max(top)
    found: list[tuple[str, list[str]]] = []
    # (path, identities of the folders from the root down to it, by identity -> path)
    stack: list[tuple[str, dict[tuple[int, int], str]]] = [(top, {**(above or {}), _identity(owner, top): top})]
    while stack:
        path, chain = stack.pop()
        names: list[str] = []
        for entry in _scandir(owner, path):
            child = os.path.join(path, entry.name)
            if _is_dir(entry):
                ident = _identity(owner, child)
                if ident in chain:
                    raise DataError(
                        f"{owner}: {child!r} links back to {chain[ident]!r}, a folder above it (a loop); expected "
                        "a tree of folders (remove the link, or link to a folder outside the dataset)"
                    )
                stack.append((child, {**chain, ident: child}))
            elif entry.name.lower().endswith(extensions):
                if len(os.fsencode(child)) >= limit:
                    raise DataError(
                        f"{owner}: {_short(child)!r} is longer than this system allows ({len(os.fsencode(child))} "
                        f"bytes, limit {limit - 1}); expected shorter names (the file could not be opened)"
                    )
                if not os.path.isfile(child):  # a dangling link (listed, but stat fails)
                    raise DataError(f"{owner}: {child!r} is a broken link or not a regular file; expected a file")
                names.append(entry.name)
        if names:
            found.append((path, sorted(names)))
    found.sort(key=lambda item: item[0])
    return [Path(os.path.join(path, name)) for path, names in found for name in names]


def split_folder(root: str | os.PathLike[str] | RemotePath, split: str | None, *, owner: str) -> Any:
    """The folder of ``split`` under ``root``.

    ``root/<split>`` when it exists; ``root`` itself when ``split`` is None, or is ``"train"`` and
    ``root`` has no split folders (a plain dataset is its own training split). Any other
    missing split is a ``DataError``: reading the whole root for ``"val"`` would mix the splits.
    """
    base = as_path(root)
    if not base.is_dir():
        raise DataError(f"{owner}.root: got {str(base)!r}, expected an existing folder")
    if split is None:
        return base
    if not isinstance(split, str) or not split:
        raise ConfigError(f"{owner}.split: got {split!r}, expected a folder name such as 'train' or None")
    if (base / split).is_dir():
        return base / split
    if isinstance(base, RemotePath):
        dirs = [name for name, is_dir in _remote_entries(base) if is_dir]
    else:
        dirs = [e.name for e in _scandir(owner, os.fspath(base)) if _is_dir(e)]
    present = sorted(name for name in dirs if name.lower() in SPLIT_NAMES)
    if split == "train" and not present:
        return base
    raise DataError(
        f"{owner}.split: got {split!r}, but {str(base / split)!r} does not exist; expected one of the split "
        f"folders {present or '(none)'}" + ("" if present else " (or split=None to read the root as one dataset)")
    )


def _describe(exts: tuple[str, ...]) -> str:
    shown = "/".join(exts[:8])
    return shown if len(exts) <= 8 else f"{shown}/... ({len(exts)} extensions)"


def _label_table(
    folders: list[str], class_names: Sequence[str] | Mapping[str, int] | None, root: Any, owner: str
) -> tuple[dict[str, int], list[str]]:
    if class_names is None:
        return {name: i for i, name in enumerate(folders)}, list(folders)
    if isinstance(class_names, Mapping):
        table = dict(class_names)
        bad = {k: v for k, v in table.items() if isinstance(v, bool) or not isinstance(v, int) or v < 0}
        if bad:
            raise ConfigError(f"{owner}.class_to_idx: got {bad}, expected non-negative int labels")
        if sorted(table.values()) != list(range(len(table))):
            raise ConfigError(
                f"{owner}.class_to_idx: got labels {sorted(table.values())} for {len(table)} classes, expected each "
                f"of 0..{len(table) - 1} once, so that class_names[label] names the class (renumber them, or give "
                "the names as a list in label order)"
            )
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


def _remote_tree(root: RemotePath, exts: tuple[str, ...]) -> tuple[list[str], dict[str, list[Any]], list[Any]]:
    """(class folders, their files, files directly in the root) of a remote root, from one listing."""
    classes: dict[str, list[Any]] = {}
    loose = []
    for path in root.walk_files():
        top, sep, _ = path.url[len(root.url) + 1 :].partition("/")
        if sep:
            classes.setdefault(top, [])
            if path.name.lower().endswith(exts):
                classes[top].append(path)
        elif path.name.lower().endswith(exts):
            loose.append(path)
    order = {name: sorted(files, key=lambda p: (p.parent.url, p.name)) for name, files in classes.items()}
    return sorted(classes), order, sorted(loose)


def scan_class_folders(
    root: str | os.PathLike[str] | RemotePath,
    extensions: Iterable[str],
    *,
    owner: str,
    class_names: Sequence[str] | Mapping[str, int] | None = None,
    labelled: bool | None = None,
    unlabelled_option: str = "labelled=False",
    allow_empty: bool = False,
) -> FolderScan:
    """Files under ``root`` with ``extensions``, labelled by their top-level sub-folder (torchvision's listing).

    ``labelled=None`` labels when ``root`` has sub-folders holding such files; ``True`` requires
    them, ``False`` lists every file unlabelled (``unlabelled_option`` is how the caller's users
    spell that, for the error message). ``class_names`` (a list: label = position; a mapping:
    class to index, each of ``0..n-1`` once) fixes the labels; by default they are the sorted
    folder names. Names in ``class_names`` without a folder keep their labels (a split with
    fewer classes); a class folder without files is a ``DataError`` unless ``allow_empty``.
    """
    root = as_path(root)
    exts = normalize_extensions(extensions, owner=owner)
    if not isinstance(allow_empty, bool):
        raise ConfigError(f"{owner}.allow_empty: got {allow_empty!r}, expected a bool")
    if not root.is_dir():
        raise DataError(f"{owner}.root: got {str(root)!r}, expected an existing folder")
    if labelled is False:
        every = list_files(root, exts, owner=owner)
        if not every:
            raise DataError(f"{owner}: no {_describe(exts)} files under {str(root)!r}; expected at least one")
        return FolderScan(every, None, [])
    if isinstance(root, RemotePath):
        folders, classes, loose = _remote_tree(root, exts)
    else:
        entries = _scandir(owner, os.fspath(root))
        above = {_identity(owner, os.fspath(root)): os.fspath(root)}
        folders = sorted(e.name for e in entries if _is_dir(e))
        classes = {name: list_files(root / name, exts, owner=owner, above=above) for name in folders}
        loose = sorted(root / e.name for e in entries if not _is_dir(e) and e.name.lower().endswith(exts))
        dangling = [p for p in loose if not p.is_file()]
        if dangling:
            raise DataError(f"{owner}: {str(dangling[0])!r} is a broken link or not a regular file; expected a file")
    full = {name: files for name, files in classes.items() if files}
    if not full:
        if labelled:
            raise DataError(f"{owner}: no class sub-folders with {_describe(exts)} files under {str(root)!r}")
        if not loose:
            raise DataError(
                f"{owner}: no {_describe(exts)} files in {str(root)!r}; expected files or class sub-folders of them"
            )
        return FolderScan(loose, None, [])
    if loose:
        raise DataError(
            f"{owner}: {len(loose)} file(s) directly in {str(root)!r} beside class folders "
            f"{sorted(full)} (first: {str(loose[0])!r}); expected every file inside a class folder, "
            f"or {unlabelled_option} to read all files unlabelled"
        )
    empty = tuple(name for name in folders if not classes[name])
    if empty and not allow_empty:
        raise DataError(
            f"{owner}: found no valid file for the classes {', '.join(empty)} under {str(root)!r} (extensions "
            f"{_describe(exts)}); expected files in every class folder (remove the empty folders, or pass "
            "allow_empty=True to keep their labels reserved)"
        )
    table, names = _label_table(folders, class_names, root, owner)
    paths: list[Any] = []
    labels: list[int] = []
    for name in folders:
        paths += classes[name]
        labels += [table[name]] * len(classes[name])
    return FolderScan(paths, labels, names, empty)
