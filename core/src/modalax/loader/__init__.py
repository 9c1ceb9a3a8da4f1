"""The data loader: exact epochs, exact resume, sharding and prefetch."""

from modalax.loader.iterator import LoaderIterator
from modalax.loader.loader import DataLoader, create_data_loader
from modalax.loader.order import EpochOrder
from modalax.loader.plan import BatchPlan, epoch_permutation

__all__ = ["BatchPlan", "DataLoader", "EpochOrder", "LoaderIterator", "create_data_loader", "epoch_permutation"]
