"""Folder trees for the listing tests: nested class folders whose order tells sorting rules apart."""

from __future__ import annotations

import os
from pathlib import Path

#: Names that sort differently by path parts, by string and by case (``-``/``.`` sort before ``/``).
NAMES = ["zebra.png", "Apple.PNG", "_x.jpg", "10.png", "9.png", "b.jpeg", "a.tar.png", ".hidden.png", "x.txt"]
SUBS = ["", "sub", "sub-b", "sub.b", "sub/x", "sub/x/y", "Sub", "sub_b"]
CLASSES = ["cat", "Cat", "cat-2", "cat.2", "cat_2", "dog"]


def touch(root: Path, *names: str) -> Path:
    """Write one byte into each of ``names`` under ``root`` (folders made as needed)."""
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    return root


def nested_tree(base: Path) -> Path:
    """``base/root``: classes holding files beside sub-folders at several depths, plus links.

    ``dog/linked`` links to a folder outside the root, ``cat/also`` and ``cat/again`` both link
    to that same folder (no loop: torchvision lists its files twice), and ``dog/pic.png`` links
    to a file of another class.
    """
    root = base / "root"
    for c, cls in enumerate(CLASSES):
        for s, sub in enumerate(SUBS):
            if (c + s) % 3 == 2:  # not every folder everywhere, so the groups differ in size
                continue
            folder = f"{cls}/{sub}" if sub else cls
            touch(root, *(f"{folder}/{name}" for name in NAMES[(c + s) % 3 :]))
    outside = touch(base / "outside", "o1.png", "deeper/o2.png")
    os.symlink(outside, root / "dog" / "linked")
    os.symlink(outside, root / "cat" / "also")
    os.symlink(outside, root / "cat" / "again")
    os.symlink(root / "cat" / "zebra.png", root / "dog" / "pic.png")
    return root
