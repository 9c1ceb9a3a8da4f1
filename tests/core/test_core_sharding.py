"""Global batches over a simulated 8-device mesh and across two real processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .multiprocess_fixtures import ROOT, TIMEOUT_S, host_env, two_process_digests

COMMON = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    import numpy as np
    import jax
    from flax import nnx
    from modalax import ArraySource, DataLoader
    from tests.core.operator_fixtures import Shift, ShiftConfig
    from tests.core.source_fixtures import digest

    def make(**kw):
        data = {{"x": np.arange(40 * 3, dtype=np.float32).reshape(40, 3), "id": np.arange(40, dtype=np.int32)}}
        op = Shift(ShiftConfig(field_key="x", stochastic=True, stream_name="augment"), rngs=nnx.Rngs(0, augment=1))
        return DataLoader(ArraySource(data), 8, seed=4, num_epochs=2, operators=[op], prefetch=1, **kw)
""")

MESH = COMMON + textwrap.dedent("""
    assert jax.device_count() == 8, jax.devices()
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))
    sharded = list(make(mesh=mesh))
    for b in sharded:
        x = b["x"]
        assert x.shape == (8, 3) and len(x.sharding.device_set) == 8, x.sharding
        assert x.addressable_shards[0].data.shape == (1, 3)
    plain = list(make(num_shards=1, shard_index=0))
    assert digest(sharded) == digest(plain)
    print("ok", len(sharded))
""")

WORKER = COMMON + textwrap.dedent("""
    from jax.experimental import multihost_utils
    pid = int(sys.argv[1])
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=sys.argv[2], num_processes=2, process_id=pid)
    assert jax.process_count() == 2 and jax.device_count() == 4, (jax.process_count(), jax.devices())
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))
    loader = make(mesh=mesh)
    assert loader.plan.num_shards == 2 and loader.plan.shard_index == pid
    batches = []
    for b in loader:
        assert b["x"].shape == (8, 3) and not b["x"].is_fully_addressable
        batches.append({{k: np.asarray(multihost_utils.process_allgather(v, tiled=True)) for k, v in b.items()}})
    single = make(num_shards=1, shard_index=0)
    print("digest", digest(batches), digest(list(single)))
    jax.distributed.shutdown()
""")


def test_eight_device_mesh_gives_global_arrays_equal_to_single_device() -> None:
    res = subprocess.run(
        [sys.executable, "-c", MESH.format(root=str(ROOT))],
        capture_output=True,
        text=True,
        env=host_env(8),
        timeout=TIMEOUT_S,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["ok", "10"]


@pytest.mark.multiprocess
def test_two_processes_assemble_the_single_process_global_batches(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(root=str(ROOT)))
    outs = two_process_digests(script)
    for _, global_digest, single_digest in outs:
        assert global_digest == single_digest
    assert outs[0] == outs[1]
