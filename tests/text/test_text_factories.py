"""Every text dataset factory: one argument order, ``seed=``/``rngs=``, the same records for the same
seed in every process, and datasets that pickle (worker processes)."""

from __future__ import annotations

import inspect
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from flax import nnx

import modalax
from modalax.plugin import seed_key
from modalax_text import (
    SimpleTextDataset,
    SyntheticTextDataset,
    TextFileDataset,
    create_text_dataset,
    text_config,
)
from modalax_text.packed import PackedTextDataset

CFG = text_config(vocab_size=100, max_length=16)
TEXTS = ["the cat sat on the mat", "a dog ran", "naïve café ☃ words", "the end", "Grüße 👍🏽 aus Köln"]
# the data location each registered type takes (None: generated)
LOCATION = {"synthetic": None, "simple": "texts", "file": "path", "packed": "root"}


def factories() -> dict[str, object]:
    return {name: modalax.get_dataset_factory("text", name) for name in modalax.list_datasets("text")}


def test_every_registered_type_is_checked_here():
    assert sorted(factories()) == sorted(LOCATION)


@pytest.mark.parametrize("name", sorted(LOCATION))
def test_one_argument_order(name):
    cls = factories()[name]
    # the class's own __init__ (nnx's metaclass __call__ shows only *args, **kwargs)
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    keyword = {p.name: p for p in params if p.kind is p.KEYWORD_ONLY}
    assert positional[0] == "config" and params[0].default is None
    if LOCATION[name] is None:  # the API reference's order for generated data: size, pattern, split
        assert positional == ["config", "dataset_size", "pattern_type", "split"]
    else:
        assert positional == ["config", LOCATION[name], "split"]
    assert params[positional.index("split")].default == "train"
    assert keyword["seed"].default is None and keyword["rngs"].default is None


def test_the_factory_function_has_the_same_order():
    params = inspect.signature(create_text_dataset).parameters
    assert list(params)[:3] == ["config", "dataset_type", "split"] and params["config"].default is None
    assert params["seed"].kind is params["rngs"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.fixture(scope="module")
def packed_root(tmp_path_factory) -> Path:
    pytest.importorskip("array_record")
    root = tmp_path_factory.mktemp("packed")
    modalax.pack(SimpleTextDataset(CFG, TEXTS), root / "p", progress=False)
    return root / "p"


def build(name: str, root: Path | None, **seeding) -> object:
    """Each dataset type, positionally in the common order, seeded by ``seeding``."""
    if name == "synthetic":
        return SyntheticTextDataset(CFG, 40, "random_sentences", "train", **seeding)
    if name == "simple":
        return SimpleTextDataset(CFG, TEXTS, "train", **seeding)
    if name == "file":
        path = Path(os.environ["TEXT_FACTORY_TMP"]) / "lines.txt"
        path.write_text("\n".join(TEXTS), encoding="utf-8")
        return TextFileDataset(CFG, path, "train", **seeding)
    return PackedTextDataset(None, root, "train", **seeding)


@pytest.fixture
def tmp_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXT_FACTORY_TMP", str(tmp_path))


def records(ds) -> np.ndarray:
    return np.asarray(ds.get_records(np.arange(len(ds)))["text_tokens"])


def batches(ds, n: int = 3) -> np.ndarray:
    return np.stack([np.asarray(ds.get_batch(4)["text_tokens"]) for _ in range(n)])


@pytest.mark.parametrize("name", sorted(LOCATION))
def test_seed_and_rngs_give_the_same_data(name, packed_root, tmp_env):
    by_seed = build(name, packed_root, seed=7)
    same = [
        build(name, packed_root, rngs=7),
        build(name, packed_root, rngs=nnx.Rngs(seed_key(7))),
        build(name, packed_root, seed=7),
    ]
    for other in same:
        np.testing.assert_array_equal(records(other), records(by_seed))
        np.testing.assert_array_equal(batches(other), batches(build(name, packed_root, seed=7)))
    assert not np.array_equal(batches(build(name, packed_root, seed=8)), batches(build(name, packed_root, seed=7)))
    # the default is seed 0
    np.testing.assert_array_equal(batches(build(name, packed_root)), batches(build(name, packed_root, seed=0)))


@pytest.mark.parametrize("name", sorted(LOCATION))
def test_datasets_pickle(name, packed_root, tmp_env):
    ds = build(name, packed_root, seed=3)
    ds.get_batch(2)  # the draw counter is state too
    again = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(records(again), records(ds))
    np.testing.assert_array_equal(batches(again), batches(ds))
    idx = np.arange(len(ds))
    assert again.fetch(idx)["texts"] == ds.fetch(idx)["texts"]


def test_create_text_dataset_takes_seed_and_passes_the_rest(packed_root):
    by_class = SyntheticTextDataset(CFG, 30, "sequences", seed=11)
    made = create_text_dataset(CFG, "synthetic", pattern_type="sequences", dataset_size=30, seed=11)
    np.testing.assert_array_equal(records(made), records(by_class))
    registry = modalax.create_dataset(
        "text", "synthetic", config=CFG, pattern_type="sequences", dataset_size=30, seed=11
    )
    np.testing.assert_array_equal(records(registry), records(by_class))
    packed = create_text_dataset(None, "packed", root=packed_root, seed=2)
    assert isinstance(packed, PackedTextDataset) and len(packed) == len(TEXTS)
    simple = create_text_dataset(CFG, "simple", "val", texts=TEXTS, rngs=nnx.Rngs(1))
    assert simple.split == "val" and len(simple) == len(TEXTS)


def test_the_old_packed_order_still_works_with_a_warning(packed_root):
    with pytest.warns(DeprecationWarning, match=r"PackedTextDataset\(root, \.\.\.\) with the root first is deprecated"):
        old = PackedTextDataset(packed_root)
    with pytest.warns(DeprecationWarning):
        older = PackedTextDataset(str(packed_root), CFG)
    np.testing.assert_array_equal(records(old), records(PackedTextDataset(root=packed_root)))
    assert older.params.vocab_size == 100


SAME_IN_EVERY_PROCESS = textwrap.dedent("""
    import hashlib, pickle, sys
    import numpy as np
    from modalax_text import SyntheticTextDataset, text_config
    digest = hashlib.sha256()
    for vocab in (32, 10000):
        for pattern in ("random_sentences", "sequences"):
            ds = SyntheticTextDataset(text_config(vocab_size=vocab, max_length=16), 64, pattern, seed=5)
            digest.update(np.asarray(ds.get_records(np.arange(64))["text_tokens"]).tobytes())
            digest.update("|".join(ds.host_records(np.arange(64))["texts"]).encode())
    unpickled = pickle.loads(bytes.fromhex(sys.argv[1]))
    digest.update(np.asarray(unpickled.get_records(np.arange(64))["text_tokens"]).tobytes())
    print(digest.hexdigest())
""")


@pytest.mark.multiprocess
def test_same_seed_same_records_in_every_process():
    shipped = pickle.dumps(SyntheticTextDataset(text_config(vocab_size=50, max_length=16), 64, "palindromes", seed=9))
    digests = set()
    for hash_seed in ("1", "977"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "JAX_PLATFORMS": "cpu"}
        out = subprocess.run(
            [sys.executable, "-c", SAME_IN_EVERY_PROCESS, shipped.hex()],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=True,
        )
        digests.add(out.stdout.strip().splitlines()[-1])
    assert len(digests) == 1
