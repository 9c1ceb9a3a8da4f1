"""A time-series modality for modalax (example plugin)."""

from modalax_timeseries.config import TimeSeriesConfig

__all__ = ["TimeSeriesConfig"]
