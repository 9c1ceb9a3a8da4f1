"""``pack(..., runner="beam")``: the shards of ``pack`` written by an Apache Beam pipeline.

The pipeline is one step: ``Create(range(S)) | Reshuffle() | ParDo(write shard s)``. Each
worker builds the same read plan from the pickled dataset and writes shard ``s`` (records
``[s*n//S, (s+1)*n//S)``) with ``write_shard``, the function the single-process writer calls,
so the shards are byte for byte those of ``pack`` and the index (checksums, fields, skipped
records, file sums) is the same; the per-shard results go back to the driver as small JSON
files beside the shards (fields, CRC-32s, skipped records, size, SHA-256), from which the
driver writes ``records.crc32`` and ``index.json`` with ``finish``. Parallelism is the number
of shards: ask for at least as many shards as workers.

Bad records follow ``on_error`` as in ``pack``: skipped ones are listed in the index in
record order; with ``"raise"`` every shard stops at its first bad record and the driver raises
the ``DataError`` of the first in record order, the one ``pack`` raises, after removing what
was written.

A Beam pack is complete or absent like any pack: the driver first writes ``pack.beam.partial``,
workers write shards under ``.partial`` names (remote outputs: staged locally and uploaded),
and ``index.json`` comes last. An interrupted run (a killed driver, a failed pipeline that
could not clean up) leaves those files, which readers name an incomplete pack and ``pack``
refuses to write into (delete the folder and run again); a re-run never mixes with them.

Runners: without ``pipeline_options`` the DirectRunner runs 2 worker processes on this machine
(``--direct_num_workers=2 --direct_running_mode=multi_processing``). Other runners (Dataflow,
Flink, Spark) take their usual flags; their workers run elsewhere, so ``out_dir`` and the
dataset's files must be URLs every worker can reach (``gs://``, ``s3://``).
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.install_hints import extra_hint
from modalax._src.packed.index import PARTIAL, FieldInfo, PackedIndex, shard_name
from modalax._src.packed.output import PackOutput, check_out
from modalax._src.packed.writer import (
    DEFAULT_WRITER_OPTIONS,
    ShardResult,
    _describe,
    array_record_module,
    bounds_of,
    finish,
    prepare,
    write_shard,
)
from modalax._src.remote import RemotePath, as_path

try:
    import apache_beam as beam
except ImportError as exc:  # the extra is optional
    raise ModuleNotFoundError(f"pack(runner='beam') needs apache-beam: {extra_hint('beam')}") from exc

__all__ = ["DEFAULT_PIPELINE_OPTIONS", "MARKER", "pack_beam"]

#: The DirectRunner on this machine with two worker processes.
DEFAULT_PIPELINE_OPTIONS = ("--runner=DirectRunner", "--direct_num_workers=2", "--direct_running_mode=multi_processing")
#: Written by the driver before the pipeline runs, removed just before the shards are renamed.
MARKER = "pack.beam" + PARTIAL


def _manifest(name: str) -> str:
    return f"{name}.json{PARTIAL}"


@dataclass
class _Job:
    """What every worker needs (pickled into the pipeline)."""

    data: Any
    out: Path | RemotePath
    shards: int
    size: int
    writer_options: str
    policy: str
    check_files: bool


def _to_json(result: ShardResult) -> str:
    fields = None if result.fields is None else {k: [f.kind, f.dtype, f.shape] for k, f in result.fields.items()}
    crcs = base64.b64encode(result.crcs.astype("<u4").tobytes()).decode()
    body = {"fields": fields, "crcs": crcs, "skipped": result.skipped, "size": result.size, "sha256": result.sha256}
    return json.dumps(body)


def _from_json(text: str) -> ShardResult:
    body = json.loads(text)
    fields = body["fields"]
    infos = None
    if fields is not None:
        infos = {
            k: FieldInfo(kind, dtype, None if shape is None else tuple(shape))
            for k, (kind, dtype, shape) in fields.items()
        }
    crcs = np.frombuffer(base64.b64decode(body["crcs"]), "<u4").copy()
    skipped = [(int(i), str(why)) for i, why in body["skipped"]]
    return ShardResult(infos, crcs, skipped, int(body["size"]), str(body["sha256"]))


class _WriteShard(beam.DoFn):
    """Writes shard ``s`` of the job and its result file; a bad record with ``on_error="raise"`` is reported
    in the result file (the driver raises the first), not raised here."""

    def __init__(self, job: _Job) -> None:
        self.job = job
        self.module: Any = None
        self.plan: Any = None

    def setup(self) -> None:
        from modalax._src.packed.adapt import plan_for

        self.module = array_record_module()
        self.plan = plan_for(self.job.data, check_files=self.job.check_files)

    def process(self, s: int) -> Any:
        job = self.job
        name = shard_name(s, job.shards)
        bounds = bounds_of(job.size, job.shards)
        staging = None if isinstance(job.out, Path) else Path(tempfile.mkdtemp(prefix="modalax-beam-"))
        local = (job.out if isinstance(job.out, Path) else staging) / (name + PARTIAL)  # type: ignore[operator]
        try:
            result = write_shard(
                self.module, self.plan, local, bounds[s], bounds[s + 1], job.writer_options, job.policy
            )
            if isinstance(job.out, RemotePath):
                (job.out / name).upload(local)
            text = _to_json(result)
        except DataError as exc:
            local.unlink(missing_ok=True)
            text = json.dumps({"error": str(exc)})
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
        (job.out / _manifest(name)).write_text(text)
        yield s


def _options(pipeline_options: Any, out: Path | RemotePath) -> Any:
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    if pipeline_options is None:
        options = PipelineOptions(list(DEFAULT_PIPELINE_OPTIONS))
    elif isinstance(pipeline_options, PipelineOptions):
        options = pipeline_options
    elif isinstance(pipeline_options, str) or not isinstance(pipeline_options, Sequence):
        raise ConfigError(
            f"pack.pipeline_options: got {pipeline_options!r}, expected a list of flags such as "
            "['--runner=DataflowRunner', '--project=...'] or a PipelineOptions"
        )
    else:
        options = PipelineOptions(list(pipeline_options))
    runner = str(options.view_as(StandardOptions).runner or "DirectRunner")
    if isinstance(out, Path) and "direct" not in runner.lower() and "prism" not in runner.lower():
        raise ConfigError(
            f"pack.out_dir: got the local folder {str(out)!r} with the {runner}, whose workers run on other "
            "machines; expected a URL every worker can write (gs://..., s3://...)"
        )
    return options


def _collect(out: Path | RemotePath, shards: int) -> list[ShardResult]:
    """The workers' results in shard order; the first bad record's ``DataError`` (record order) if any."""
    results, errors = [], []
    for s in range(shards):
        path = out / _manifest(shard_name(s, shards))
        try:
            body = path.read_text()
        except FileNotFoundError:
            raise DataError(
                f"pack (beam): the pipeline finished without writing shard {s}'s result {str(path)!r}; expected "
                "one per shard (a runner that dropped work?)"
            ) from None
        error = json.loads(body).get("error")
        if error is not None:
            errors.append(error)
        else:
            results.append(_from_json(body))
    if errors:
        raise DataError(errors[0])
    for s in range(shards):
        (out / _manifest(shard_name(s, shards))).unlink(missing_ok=True)
    return results


def pack_beam(
    data: Any,
    out_dir: Any,
    *,
    shards: int = 1,
    modality: str | None = None,
    writer_options: str = DEFAULT_WRITER_OPTIONS,
    on_error: Any = None,
    check_files: bool | None = None,
    pipeline_options: Any = None,
) -> PackedIndex:
    """``pack(data, out_dir, ...)`` with the shards written by a Beam pipeline (see the module docstring)."""
    _, policy, plan, shards = prepare(data, shards, on_error, check_files)
    out = as_path(out_dir)
    options = _options(pipeline_options, out)
    output = PackOutput(out, check_out(out))
    try:
        (out / MARKER).write_text(f"a Beam pack of {plan.size} records into {shards} shards is being written\n")
        described = _describe(data, modality, output.local)
        job = _Job(
            data,
            out,
            shards,
            plan.size,
            writer_options,
            policy,
            policy == "skip" if check_files is None else bool(check_files),
        )
        with beam.Pipeline(options=options) as pipeline:
            _ = pipeline | beam.Create(list(range(shards))) | beam.Reshuffle() | beam.ParDo(_WriteShard(job))
        results = _collect(out, shards)
        (out / MARKER).unlink()
        return finish(output, results, plan, described, writer_options, policy)
    except BaseException:
        output.clean()
        raise
