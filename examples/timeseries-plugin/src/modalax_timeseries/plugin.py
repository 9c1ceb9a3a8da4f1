"""Hook module named by the entry point: light, it imports no jax.

Everything is registered as "module:attr" strings, imported on first use.
"""

from __future__ import annotations

from modalax.plugin import (
    AdapterRecord,
    DatasetRecord,
    KernelRecord,
    ModalityRecord,
    OperatorRecord,
    Register,
    hookimpl,
)

#: The modalax plugin API this plugin is built against (checked by discovery).
MODALAX_PLUGIN_API = "1.0"


@hookimpl
def register_modalities(register: Register) -> None:
    register(
        ModalityRecord(
            "timeseries",
            "modalax_timeseries.modality:TimeSeriesModality",
            "multichannel time series",
            config_class="modalax_timeseries.config:TimeSeriesConfig",
        )
    )


@hookimpl
def register_datasets(register: Register) -> None:
    register(
        DatasetRecord(
            "timeseries",
            "synthetic",
            "modalax_timeseries.modality:SyntheticSeriesDataset",
            "noisy sums of sinusoids, generated on demand",
        )
    )


@hookimpl
def register_kernels(register: Register) -> None:
    register(
        KernelRecord(
            "timeseries.zscore",
            "modalax_timeseries.modality:zscore",
            description="per-series z-score",
            example="modalax_timeseries.modality:zscore_example",
        )
    )


@hookimpl
def register_operators(register: Register) -> None:
    register(OperatorRecord("timeseries", "jitter", "modalax_timeseries.modality:Jitter"))


@hookimpl
def register_adapters(register: Register) -> None:
    register(
        AdapterRecord(
            "timeseries", "default", "modalax_timeseries.modality:TimeSeriesAdapter", "models of the series shape"
        )
    )
