"""The data loader: exact epochs, exact resume, sharding and prefetch."""

from modalax._src.loader.iterator import LoaderIterator
from modalax._src.loader.loader import DataLoader, create_data_loader
from modalax._src.loader.order import EpochOrder
from modalax._src.loader.plan import BatchPlan, epoch_permutation

__all__ = ["BatchPlan", "DataLoader", "EpochOrder", "LoaderIterator", "create_data_loader", "epoch_permutation"]
