"""Elastic resume: a position saved by N processes with W workers each continues under M processes with V.

Real ``jax.distributed`` processes (two, over gloo on the loopback) and this test's own process
(one): the two-process job first restores what this process saved (1 -> 2 processes, 0 -> 1
worker each) and runs the rest, then runs a fresh head of the same stream and saves it, which
this process restores and finishes (2 -> 1 processes, 1 -> 2 workers). Both global orders must
equal the uninterrupted single-process one: no record repeated or skipped.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .multiprocess_fixtures import ROOT, two_process_digests

ocp = pytest.importorskip("orbax.checkpoint", reason="modalax[orbax] not installed")

STOP = 3  # global batches before the save; 5 an epoch, 2 epochs

COMMON = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    import numpy as np
    from flax import nnx
    from modalax import ArraySource, DataLoader
    from tests.core.operator_fixtures import Shift, ShiftConfig

    def make(workers, **kw):
        data = {{"x": np.arange(37 * 2, dtype=np.float32).reshape(37, 2), "id": np.arange(37, dtype=np.int32)}}
        op = Shift(ShiftConfig(field_key="x", stochastic=True, stream_name="augment"), rngs=nnx.Rngs(0, augment=1))
        return DataLoader(ArraySource(data, on_device=False), 8, seed=4, num_epochs=2, operators=[op],
                          with_indices=True, workers=workers, **kw)
""")

WORKER = COMMON + textwrap.dedent("""
    import json
    import jax
    import orbax.checkpoint as ocp
    from jax.experimental import multihost_utils
    from modalax.checkpoint import restore_checkpoint, save_checkpoint

    def rows(batch):
        full = {{k: np.asarray(multihost_utils.process_allgather(v, tiled=True)) for k, v in batch.items()}}
        return [full["index"].tolist(), full["mask"].tolist(), full["x"].tolist()]

    def main():  # worker processes (spawned) import this file: the job runs only in its own process
        pid = int(sys.argv[1])
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=sys.argv[2], num_processes=2, process_id=pid)
        mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))
        restored = make(1, mesh=mesh)
        with ocp.CheckpointManager(sys.argv[3]) as manager:
            restore_checkpoint(manager, None, restored)
        tail = [rows(b) for b in restored]
        restored.close()

        head_loader = make(1, mesh=mesh)
        it = iter(head_loader)
        head = [rows(next(it)) for _ in range({stop})]
        with ocp.CheckpointManager(sys.argv[4]) as manager:
            save_checkpoint(manager, {stop}, it)
            manager.wait_until_finished()
        head_loader.close()
        print("digest", json.dumps([tail, head]).replace(" ", ""))
        jax.distributed.shutdown()

    if __name__ == "__main__":
        main()
""")


def _rows(batch: dict[str, Any]) -> list[Any]:
    return [np.asarray(batch["index"]).tolist(), np.asarray(batch["mask"]).tolist(), np.asarray(batch["x"]).tolist()]


@pytest.mark.multiprocess
def test_a_position_continues_under_another_process_and_worker_count(tmp_path: Path) -> None:
    from modalax.checkpoint import restore_checkpoint, save_checkpoint

    namespace: dict[str, Any] = {}
    exec(COMMON.format(root=str(ROOT)), namespace)  # the same make() as the job's processes
    make = namespace["make"]
    reference = [_rows(b) for b in make(0)]
    assert len(reference) == 10

    one_to_two, two_to_one = tmp_path / "saved-by-one", tmp_path / "saved-by-two"
    single = make(0)
    it = iter(single)
    for _ in range(STOP):
        next(it)
    with ocp.CheckpointManager(one_to_two) as manager:
        save_checkpoint(manager, STOP, it)
        manager.wait_until_finished()

    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(root=str(ROOT), stop=STOP))
    outs = two_process_digests(script, str(one_to_two), str(two_to_one))
    assert outs[0] == outs[1]  # both processes saw the same global batches
    tail, head = json.loads(outs[0][1])
    assert tail == reference[STOP:]  # 1 process, no worker -> 2 processes, a worker each
    assert head == reference[:STOP]
    assert sorted(p.name for p in (two_to_one / str(STOP) / "data").glob("process_*")) == [
        "process_0-of-2.json",
        "process_1-of-2.json",
    ]

    resumed = make(2)  # 2 processes, a worker each -> 1 process, 2 workers
    with ocp.CheckpointManager(two_to_one) as manager:
        restore_checkpoint(manager, None, resumed)
    rest = [_rows(b) for b in resumed]
    resumed.close()
    assert head + rest == reference
    for epoch in range(2):  # every record exactly once per epoch
        ids = [i for index, mask, _ in reference[epoch * 5 : (epoch + 1) * 5] for i, m in zip(index, mask) if m]
        assert sorted(ids) == list(range(37))
