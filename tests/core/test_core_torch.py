"""Against the real torch and torchvision (``nox -s torch``; skipped where they are not installed).

* Folder listings equal torchvision's ``DatasetFolder``/``ImageFolder`` record for record: paths,
  order, class indices and which extensions count, on a nested tree with links.
* torchvision's own ``ImageFolder`` (``(tensor, label)`` tuples) and ``TensorDataset`` feed the
  loader, giving what torch's ``default_collate`` gives.
* Tensors that need a grad or are bfloat16 arrive as numpy values, bfloat16 as exact float32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax import DataLoader
from modalax._src.sources import ArraySource, SequenceSource, as_source
from modalax.plugin import scan_class_folders

from .folder_fixtures import nested_tree, touch

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")


@pytest.mark.parametrize("extensions", [(".png", ".jpg", ".jpeg"), (".PNG",), (".tar.png",)])
def test_listing_equals_torchvision_dataset_folder(tmp_path: Path, extensions: tuple[str, ...]) -> None:
    root = nested_tree(tmp_path)
    reference = torchvision.datasets.DatasetFolder(
        str(root), loader=str, extensions=tuple(e.lower() for e in extensions)
    )
    scan = scan_class_folders(root, extensions, owner="T")
    assert [str(p) for p in scan.paths] == [path for path, _ in reference.samples]
    assert scan.labels == [label for _, label in reference.samples]
    assert scan.class_names == reference.classes and len(scan.paths) > 0


def test_image_folder_dataset_equals_torchvision_image_folder(tmp_path: Path) -> None:
    image = pytest.importorskip("modalax_image")
    from PIL import Image

    root = tmp_path / "pets"
    for cls, names in {
        "cat": ["b.png", "a.JPG", "sub/c.png", "sub-x/d.webp"],
        "dog": ["e.png", "deep/f/g.bmp"],
    }.items():
        for name in names:
            (root / cls / name).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (5, 4), (len(name) * 20, 0, 0)).save(root / cls / name)
    touch(root, "dog/notes.txt")
    reference = torchvision.datasets.ImageFolder(str(root))
    ours = image.ImageFolderDataset(None, root, split=None, extensions=torchvision.datasets.folder.IMG_EXTENSIONS)
    assert [str(p) for p in ours.paths] == [path for path, _ in reference.samples]
    assert ours.class_to_idx == reference.class_to_idx and ours.class_names == reference.classes
    labels = ours.get_records(np.arange(len(ours)))["labels"].tolist()
    assert labels == reference.targets


def test_torchvision_tuples_through_the_loader_equal_default_collate(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    from PIL import Image
    from torch.utils.data import default_collate
    from torchvision import transforms

    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    folder = torchvision.datasets.ImageFolder(str(tmp_path), transform=transforms.ToTensor())
    expected = default_collate([folder[i] for i in range(6)])
    named = next(iter(DataLoader(as_source(folder, fields=("images", "labels")), 6, shuffle=False)))
    np.testing.assert_array_equal(np.asarray(named["images"]), expected[0].numpy())
    assert np.asarray(named["labels"]).tolist() == expected[1].tolist()
    positional = next(iter(DataLoader(folder, 6, shuffle=False)))
    assert sorted(positional) == ["0", "1", "mask"]
    np.testing.assert_array_equal(np.asarray(positional["0"]), expected[0].numpy())


def test_tensors_with_grad_and_in_bfloat16_arrive_as_numpy() -> None:
    weights = torch.randn(5, 3, requires_grad=True)
    halves = torch.randn(5, 2).to(torch.bfloat16)
    pairs = torch.utils.data.TensorDataset(weights, halves)
    batch = as_source(pairs, fields=("w", "h")).get_records([4, 0])
    np.testing.assert_array_equal(batch["w"], weights.detach().numpy()[[4, 0]])
    assert batch["h"].dtype == np.float32
    np.testing.assert_array_equal(batch["h"], halves.float().numpy()[[4, 0]])  # exact: no rounding
    dicts = [{"w": weights[i], "h": halves[i]} for i in range(5)]
    assert isinstance(as_source(dicts), ArraySource)
    np.testing.assert_array_equal(np.asarray(as_source(dicts)[2]["w"]), weights.detach().numpy()[2])
    whole = as_source(weights)
    assert isinstance(whole, ArraySource) and whole.element_spec()["data"].shape == (3,)
    columns = ArraySource({"w": weights, "h": halves}, on_device=False)
    assert columns.get_records([1])["h"].dtype == np.float32
    assert isinstance(as_source(pairs), SequenceSource)


def test_torch_dataset_errors_name_the_record() -> None:
    class Gappy(torch.utils.data.Dataset):  # type: ignore[misc]
        def __len__(self) -> int:
            return 6

        def __getitem__(self, i: int) -> Any:
            return (torch.zeros(2), None if i == 4 else i)

    with pytest.raises(ValueError, match=r"field '1' of record 4 is None"):
        as_source(Gappy()).get_records([5, 4])
