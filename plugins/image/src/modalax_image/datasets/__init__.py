"""Image datasets: synthetic patterns, MNIST-like digits and image folders."""

from modalax_image.datasets.base import ImageDataset
from modalax_image.datasets.factory import create_image_dataset
from modalax_image.datasets.folder import ImageFolderDataset
from modalax_image.datasets.mnist_like import MNISTLikeDataset
from modalax_image.datasets.synthetic import SyntheticImageDataset

__all__ = [
    "ImageDataset",
    "ImageFolderDataset",
    "MNISTLikeDataset",
    "SyntheticImageDataset",
    "create_image_dataset",
]
