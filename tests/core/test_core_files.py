"""The file bases a third-party modality builds on: one decode path for folders and packed shards.

The modality here is a stranger's: ``.npy`` "point clouds" decoded with numpy, written the way
docs/plugin-authoring.md tells a plugin author to write them.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax import ConfigError, DataError, DataLoader
from modalax.plugin import (
    BaseModalityConfig,
    FileDecoding,
    FolderDataset,
    ModalityOperator,
    ModalityOperatorConfig,
    PackedDataset,
    check_positive,
    resolve_rngs,
)

pytest.importorskip("array_record")


@dataclass(frozen=True)
class CloudConfig(BaseModalityConfig):
    points: int = 4

    def __post_init__(self) -> None:
        check_positive("CloudConfig", "points", self.points)


class CloudDecoding(FileDecoding):
    modality = "cloud"
    config_class = CloudConfig
    config: CloudConfig

    @classmethod
    def check_decode_options(cls, scale: float = 1.0) -> dict[str, Any]:
        if not isinstance(scale, int | float) or isinstance(scale, bool):
            raise ConfigError(f"{cls.__name__}.scale: got {scale!r}, expected a number")
        return {"scale": float(scale)}

    @classmethod
    def file_extensions(cls) -> tuple[str, ...]:
        return (".npy",)

    def decode_file(self, source: Path | bytes) -> dict[str, np.ndarray]:
        raw = source if isinstance(source, bytes) else Path(source).read_bytes()
        cloud = np.load(io.BytesIO(raw)).astype(np.float32)[: self.config.points]
        return {"cloud": cloud * self.decode_options["scale"]}


class CloudFolder(CloudDecoding, FolderDataset):
    pass


class PackedCloud(CloudDecoding, PackedDataset):
    pass


def write_clouds(root: Path, classes: dict[str, int]) -> dict[str, np.ndarray]:
    made = {}
    for name, count in classes.items():
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(count):
            cloud = np.random.default_rng(len(made)).normal(size=(6, 3)).astype(np.float32)
            np.save(folder / f"{i}.npy", cloud)
            made[f"{name}/{i}.npy"] = cloud
    return made


def test_folder_and_packed_decode_through_one_path(tmp_path: Path) -> None:
    from modalax import pack

    made = write_clouds(tmp_path / "data", {"chair": 3, "table": 2})
    folder = CloudFolder(CloudConfig(points=4), root=tmp_path / "data", scale=2.0, seed=3)
    assert folder.class_names == ["chair", "table"] and len(folder) == 5
    batch = folder.get_records(np.arange(5))
    assert batch["labels"].tolist() == [0, 0, 0, 1, 1]
    for j, rel in enumerate(sorted(made)):
        np.testing.assert_array_equal(batch["cloud"][j], made[rel][:4] * 2.0)
    pack(folder, tmp_path / "packed", shards=2)
    packed = PackedCloud(root=tmp_path / "packed")
    assert packed.config == CloudConfig(points=4) and packed.decode_options == {"scale": 2.0}
    assert packed.class_names == ["chair", "table"]
    again = packed.get_records(np.arange(5))
    np.testing.assert_array_equal(again["cloud"], batch["cloud"])
    np.testing.assert_array_equal(again["labels"], batch["labels"])
    wider = PackedCloud(CloudConfig(points=6), tmp_path / "packed")  # another config decodes the files to it
    assert wider.get_records(np.arange(1))["cloud"].shape == (1, 6, 3)


def test_files_list_loader_and_pickling(tmp_path: Path) -> None:
    made = write_clouds(tmp_path, {"only": 4})
    paths = sorted(tmp_path.rglob("*.npy"))
    ds = CloudFolder.from_files(paths, labels=[1, 0, 1, 0], class_names=["a", "b"], config=CloudConfig(points=2))
    copy = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(copy.get_records(np.arange(4))["cloud"], ds.get_records(np.arange(4))["cloud"])
    seen = []
    for b in DataLoader(ds, 3, seed=0, drop_last=False, with_indices=True, prefetch=0):
        seen += [int(i) for i, m in zip(np.asarray(b["index"]), np.asarray(b["mask"]), strict=True) if m]
    assert sorted(seen) == [0, 1, 2, 3] and len(made) == 4


BAD = [
    ("no root nor files", lambda t: CloudFolder(), DataError, r"CloudFolder.root: got None, expected a folder"),
    ("both", lambda t: CloudFolder(root=t, files=[t / "a.npy"]), ConfigError, r"expected one of them"),
    ("bad option", lambda t: CloudFolder(root=t, scale="x"), ConfigError, r"CloudFolder.scale: got 'x'"),
    (
        "unknown option",
        lambda t: CloudFolder(root=t, colour=1),
        ConfigError,
        r"unknown option\(s\) 'colour'; expected some of \['scale'\]",
    ),
    ("bad config", lambda t: CloudFolder({"points": 0}, root=t), ConfigError, r"CloudConfig.points: got 0"),
    ("config type", lambda t: CloudFolder(3, root=t), ConfigError, r"config: got int, expected a CloudConfig"),
    ("labels shape", lambda t: CloudFolder(files=[t / "x/0.npy"], labels=[1, 2]), ConfigError, r"shape \(2,\)"),
    ("labels bool", lambda t: CloudFolder(files=[t / "x/0.npy"], labels=True), ConfigError, r"labels: got True"),
    ("missing file", lambda t: CloudFolder(files=[t / "nope.npy"]), DataError, r"nope.npy' is not a file"),
    ("one path", lambda t: CloudFolder(files=str(t)), ConfigError, r"files: got '.*', expected a list"),
    ("threads", lambda t: CloudFolder(files=[t / "nope.npy"], num_threads=0), ConfigError, r"num_threads: got 0"),
    ("seed and rngs", lambda t: CloudFolder(root=t, seed=1, rngs=2), ConfigError, r"got both rngs and seed=1"),
]


@pytest.mark.parametrize(("case", "build", "error", "match"), BAD, ids=[b[0] for b in BAD])
def test_bad_arguments_name_what_is_wrong(tmp_path: Path, case: str, build: Any, error: type, match: str) -> None:
    write_clouds(tmp_path, {"x": 1})
    with pytest.raises(error, match=match):
        build(tmp_path)


def test_packed_path_as_first_argument_is_the_deprecated_root(tmp_path: Path) -> None:
    from modalax import pack

    write_clouds(tmp_path / "d", {"x": 2})
    pack(CloudFolder(root=tmp_path / "d"), tmp_path / "p")
    with pytest.warns(
        DeprecationWarning, match=r"PackedCloud\(root, \.\.\.\) with the root first is deprecated"
    ) as caught:
        ds = PackedCloud(tmp_path / "p")
    assert caught[0].filename == __file__ and len(ds) == 2


def test_resolve_rngs_refuses_two_seeds() -> None:
    with pytest.raises(ConfigError, match=r"Thing.rngs: got both rngs and seed=2"):
        resolve_rngs("Thing.rngs", 1, 2)


class _Brighten(ModalityOperator):
    element_ndim = 3
    element_axes = "(height, width, channels)"

    def transform(self, x: Any, random_params: Any, stats: Any) -> Any:
        return x + 0.1


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((4, 4, 3), r"shape \(4, 4, 3\), expected a batch of elements of rank 3 .*add the batch axis"),
        ((4, 3), r"shape \(4, 3\), expected a batch of elements of rank 3 \(height, width, channels\)"),
        ((1, 2, 4, 4, 3), r"rank 4 with the leading batch axis"),
    ],
)
def test_operators_check_the_rank_of_their_field(shape: tuple[int, ...], match: str) -> None:
    op = _Brighten(ModalityOperatorConfig(field_key="images"))
    with pytest.raises(DataError, match=match):
        op.apply_batch({"images": np.zeros(shape, np.float32)})
    out = op.apply_batch({"images": np.zeros((2, 4, 4, 3), np.float32)})
    np.testing.assert_allclose(np.asarray(out["images"]), 0.1)


class _Jitter(ModalityOperator):
    element_ndim = 3

    def generate_random_params(self, rng: Any, data_shapes: Any) -> Any:
        import jax

        return jax.random.uniform(rng, (data_shapes["images"][0],))

    def transform(self, x: Any, random_params: Any, stats: Any) -> Any:
        return x + random_params


def test_a_stochastic_operator_under_jit_takes_its_key_or_says_how() -> None:
    import jax
    from flax import nnx

    op = _Jitter(
        ModalityOperatorConfig(field_key="images", stochastic=True, stream_name="augment"), rngs=nnx.Rngs(augment=0)
    )
    batch = {"images": np.zeros((2, 4, 4, 3), np.float32)}
    with pytest.raises(
        ConfigError, match=r"inside jax.jit: .*jax.jit\(lambda batch, key: op.apply_batch\(batch, rng=key\)\)"
    ):
        jax.jit(op.apply_batch)(batch)
    key = jax.random.key(3)
    jitted = jax.jit(lambda b, k: op.apply_batch(b, rng=k))(batch, key)
    np.testing.assert_array_equal(np.asarray(jitted["images"]), np.asarray(op.apply_batch(batch, rng=key)["images"]))
    keys = jax.random.split(key, 2)
    by_keys = jax.jit(lambda b, k: op.apply_batch(b, keys=k))(batch, keys)
    np.testing.assert_array_equal(np.asarray(by_keys["images"]), np.asarray(op.apply_batch(batch, keys=keys)["images"]))
