"""Launching jax processes from a test: a simulated device count, and a two-process job over gloo."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 300  # a hung collective fails the test instead of hanging the suite


def host_env(devices: int) -> dict[str, str]:
    """This process's environment with ``devices`` CPU devices and no inherited XLA flags."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XLA_")}
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["JAX_PLATFORMS"] = "cpu"
    return env


def free_port() -> int:
    """A TCP port on the loopback that was free a moment ago (for the coordinator)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_process_digests(script: Path, *args: str) -> list[list[str]]:
    """Run ``script PID ADDRESS *args`` as processes 0 and 1 of one job; each one's ``digest`` line, split.

    Both run at once (they meet at the coordinator). If one fails (the test fails with the tail of
    its stderr) or outlives ``TIMEOUT_S``, any process still running is killed and reaped.
    """
    address = f"127.0.0.1:{free_port()}"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(pid), address, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=host_env(2),
        )
        for pid in range(2)
    ]
    outs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=TIMEOUT_S)
            assert p.returncode == 0, err[-3000:]
            outs.append(next(line for line in out.splitlines() if line.startswith("digest")).split())
    finally:
        for p in procs:  # one failed or timed out: its partner would wait at the coordinator
            if p.poll() is None:
                p.kill()
                p.communicate()
    return outs
