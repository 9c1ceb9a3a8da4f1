"""Configuration of the time-series modality (no jax here)."""

from __future__ import annotations

from dataclasses import dataclass

from modalax import BaseModalityConfig
from modalax.plugin import check_positive


@dataclass(frozen=True)
class TimeSeriesConfig(BaseModalityConfig):
    """``length`` time steps of ``channels`` channels."""

    length: int = 128
    channels: int = 1

    def __post_init__(self) -> None:
        check_positive("TimeSeriesConfig", "length", self.length)
        check_positive("TimeSeriesConfig", "channels", self.channels)
