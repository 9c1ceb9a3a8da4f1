#!/usr/bin/env bash
# The GPU benchmarks in one command: on a machine with an NVIDIA GPU and jax's CUDA build
# (`pip install -U "jax[cuda12]"` or `"jax[cuda13]"`, then modalax's core and plugins, as in
# docs/installation.md), from the repository root:
#
#     benchmarks/gpu.sh [--quick] [--runs N]
#
# It checks that jax runs on a GPU, then runs the loader suite (benchmarks/bench_loader.py),
# the mel kernel (benchmarks/bench_audio.py) and, when present, the training-step suite
# (benchmarks/bench_train.py), and writes docs/benchmarks-gpu.md. MODALAX_GPU_SUITES replaces
# the list (comma-separated suite names, e.g. "loader,prefetch,audio"); PYTHON names the
# interpreter (default: python). Peers that are not installed are noted, not fatal.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}

"$PYTHON" - <<'EOF'
import sys

import jax

backend = jax.default_backend()
if backend != "gpu":
    sys.exit(
        f"benchmarks/gpu.sh: jax's default backend is {backend!r}, expected 'gpu'; install jax's CUDA build "
        '(pip install -U "jax[cuda12]") on a machine with an NVIDIA GPU'
    )
print(f"jax {jax.__version__} on {jax.devices()[0].device_kind} ({jax.device_count()} device(s))")
EOF

suites="loader,audio"
if [ -f benchmarks/bench_train.py ]; then
    suites="$suites,train"
fi
suites=${MODALAX_GPU_SUITES:-$suites}

# Allocate device memory as needed rather than 75% of it up front: torch (a peer of the audio
# suite) may share the GPU. PYTHONHASHSEED as in `nox -s bench`.
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONHASHSEED=0

exec "$PYTHON" benchmarks/run_all.py --only "$suites" --out docs/benchmarks-gpu.md \
    --heading "Benchmarks on a GPU" --command "benchmarks/gpu.sh (python benchmarks/run_all.py --only $suites)" "$@"
