"""Every shipped image and audio operator through ``DataLoader`` at defaults, against a hand-written equivalent.

For each operator: a device ``ArraySource`` (images 64x64x3, float32 in [0, 1] or uint8 for
``Normalize``; waveforms 1 s at 16 kHz; spectrograms 80x101 for the masks), 8,192 records
(64 batches of 128 an epoch; the loader's fixed cost per epoch, a permutation, one packed
transfer and the epoch's key, is about 0.2 ms), two epochs a run (a run of one 16-batch epoch
took ~10 ms, shorter than the machine's noise), the loader iterating endlessly as in training
(``num_epochs=None``). The reference is one hand-written ``jax.jit(vmap)`` call per batch (gather +
the operator's function written with plain jax/``jax.image``/``jax.scipy``, same per-record
keys); the script checks it gives the loader's batch before timing. Target: >= 0.9x.

Rerun one operator: ``python benchmarks/bench_operators.py --case rotate [--runs N] [--quick]``
(cases: the names below, comma-separated).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult, Contender, block, main, race

from modalax import ArraySource, DataLoader

BATCH = 128
EPOCHS = 2  # per timed run
DEFAULT_PREFETCH = inspect.signature(DataLoader).parameters["prefetch"].default
CMD = "python benchmarks/bench_operators.py --case {}"
Fn = Callable[[jax.Array, jax.Array], jax.Array]  # (one element, its operator key) -> element
u = jax.random.uniform


def _param(key: jax.Array, lo: float, hi: float) -> jax.Array:
    return u(key, (1,), jnp.float32, lo, hi)[0]


def _rotate(x: jax.Array, key: jax.Array) -> jax.Array:
    """Pillow's rotate (centre W/2, H/2; bilinear; fill 0) with ``jax.scipy.ndimage``."""
    h, w, _ = x.shape
    t = -jnp.deg2rad(_param(key, -15.0, 15.0))
    yy, xx = jnp.meshgrid(jnp.arange(h) + 0.5 - h / 2, jnp.arange(w) + 0.5 - w / 2, indexing="ij")
    xs = jnp.cos(t) * xx + jnp.sin(t) * yy + w / 2
    ys = -jnp.sin(t) * xx + jnp.cos(t) * yy + h / 2
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    sample = jax.vmap(
        lambda ch: jax.scipy.ndimage.map_coordinates(ch, [ys - 0.5, xs - 0.5], order=1, mode="nearest"), 2, 2
    )
    return jnp.where(inside[..., None], sample(x), 0.0)


def _crop(x: jax.Array, key: jax.Array) -> jax.Array:
    kt, kl = jax.random.split(key)
    top = jax.random.randint(kt, (1,), 0, x.shape[0] - 48 + 1)[0]
    left = jax.random.randint(kl, (1,), 0, x.shape[1] - 48 + 1)[0]
    return jax.lax.dynamic_slice(x, (top, left, 0), (48, 48, x.shape[2]))


def _contrast(x: jax.Array, key: jax.Array) -> jax.Array:
    m = jnp.mean(x, axis=(0, 1), keepdims=True)
    return (x - m) * _param(key, 0.8, 1.2) + m


def _noise_snr(x: jax.Array, key: jax.Array) -> jax.Array:
    k_noise, _ = jax.random.split(key)
    noise = jax.random.normal(jax.random.split(k_noise, 1)[0], x.shape, x.dtype)
    scale = jnp.sqrt(jnp.mean(x**2) / 10.0**2 / jnp.mean(noise**2))  # SNR 20 dB
    return x + scale * noise


def _mask(axis: int) -> Fn:
    def one(x: jax.Array, key: jax.Array) -> jax.Array:
        k_w, k_s = jax.random.split(key)
        length = x.shape[axis]
        width = jax.random.randint(k_w, (1, 1), 0, min(10, length) + 1, jnp.int32)[0, 0]
        start = jnp.floor(u(k_s, (1, 1))[0, 0] * (length - width + 1)).astype(jnp.int32)
        pos = jnp.arange(length).reshape((-1, 1) if axis == 0 else (1, -1))
        return jnp.where((pos >= start) & (pos < start + width), 0.0, x)

    return one


def _audio_crop(x: jax.Array, key: jax.Array) -> jax.Array:
    start = jax.random.randint(key, (1,), 0, x.shape[-1] - 8000 + 1, jnp.int32)[0]
    return jax.lax.dynamic_slice_in_dim(x, start, 8000)


def _cutout(x: jax.Array, key: jax.Array) -> jax.Array:
    """One 16x16 patch of zeros, its corner uniform over the positions where it fits."""
    _, _, k_top, k_left = jax.random.split(key, 4)
    top = jnp.minimum(jnp.floor(u(k_top, (1, 1))[0, 0] * (x.shape[0] - 15)).astype(jnp.int32), x.shape[0] - 16)
    left = jnp.minimum(jnp.floor(u(k_left, (1, 1))[0, 0] * (x.shape[1] - 15)).astype(jnp.int32), x.shape[1] - 16)
    rows, cols = jnp.arange(x.shape[0])[:, None], jnp.arange(x.shape[1])[None, :]
    inside = (rows >= top) & (rows < top + 16) & (cols >= left) & (cols < left + 16)
    return jnp.where(inside[..., None], 0.0, x)


def _salt_and_pepper(x: jax.Array, key: jax.Array) -> jax.Array:
    """5% of the pixels: half of them 1 (salt), half 0 (pepper)."""
    v = u(key, (1, *x.shape[:2]))[0][..., None]
    return jnp.where(v < 0.025, 1.0, jnp.where(v < 0.05, 0.0, x))


def _hsv(rgb: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``colorsys.rgb_to_hsv`` per pixel, written out."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v, c = rgb.max(-1), rgb.max(-1) - rgb.min(-1)
    s = jnp.where(v > 0, c / jnp.where(v > 0, v, 1.0), 0.0)
    cc = jnp.where(c > 0, c, 1.0)
    h = jnp.where(v == r, jnp.mod((g - b) / cc, 6.0), jnp.where(v == g, (b - r) / cc + 2.0, (r - g) / cc + 4.0))
    return jnp.where(c > 0, h / 6.0, 0.0), s, v


def _rgb(h: jax.Array, s: jax.Array, v: jax.Array) -> jax.Array:
    """``colorsys.hsv_to_rgb`` per pixel: six sectors."""
    i = jnp.floor(h * 6.0)
    f = h * 6.0 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    sector = i.astype(jnp.int32) % 6
    pick = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    return jnp.stack([jnp.select([sector == k for k in range(6)], [c[ch] for c in pick]) for ch in range(3)], -1)


def _color_jitter(x: jax.Array, key: jax.Array) -> jax.Array:
    """torchvision's ColorJitter(0.4, 0.4, 0.4, 0.1) in its order, each step clipped to [0, 1]."""
    kb, kc, ks, kh = jax.random.split(key, 4)
    x = jnp.clip(x * _param(kb, 0.6, 1.4), 0.0, 1.0)
    m = jnp.mean(x @ jnp.asarray([0.299, 0.587, 0.114]))
    x = jnp.clip((x - m) * _param(kc, 0.6, 1.4) + m, 0.0, 1.0)
    h, s, v = _hsv(x)
    h = jnp.mod(h + _param(kh, -0.1, 0.1), 1.0)
    return jnp.clip(_rgb(h, jnp.clip(s * _param(ks, 0.6, 1.4), 0.0, 1.0), v), 0.0, 1.0)


def _mix_draws(keys: jax.Array) -> tuple[jax.Array, jax.Array]:
    """MixUp's draws from each record's key: ``lam ~ Beta(1, 1)`` and the partners (all records valid).

    Two sort keys per record give two random orders; position ``p`` of the first takes position
    ``p`` of the second (a uniform permutation); ``mode="batch"``: the first record's ``lam``.
    """

    def draw(k: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        k_lam, k_a, k_b = jax.random.split(k, 3)
        bits = (jax.random.bits(k_a, (), jnp.uint32), jax.random.bits(k_b, (), jnp.uint32))
        return jax.random.beta(k_lam, 1.0, 1.0), *bits

    lam, a, b = jax.vmap(draw)(keys)
    order = jnp.argsort(a)
    partners = jnp.zeros(keys.shape[0], jnp.int32).at[order].set(jnp.argsort(b).astype(jnp.int32))
    return lam[order[0]], partners, order[0]


def _mixup(x: jax.Array, keys: jax.Array) -> jax.Array:
    lam, partners, _ = _mix_draws(keys)
    return lam * x + (1.0 - lam) * x[partners]


def _cutmix(x: jax.Array, keys: jax.Array) -> jax.Array:
    """CutMix with one box per batch: ``floor(H sqrt(1 - lam))`` rows around a uniform centre, clipped."""
    mix_keys, centre_keys = jax.vmap(lambda k: jax.random.split(k))(keys).transpose(1, 0)
    lam, partners, first = _mix_draws(mix_keys)
    centre = u(centre_keys[first], (2,))
    _, h, w, _ = x.shape
    cut = jnp.sqrt(1.0 - lam)
    ch, cw = jnp.floor(h * cut).astype(jnp.int32), jnp.floor(w * cut).astype(jnp.int32)
    y0 = jnp.minimum(jnp.floor(centre[0] * h).astype(jnp.int32), h - 1) - ch // 2
    x0 = jnp.minimum(jnp.floor(centre[1] * w).astype(jnp.int32), w - 1) - cw // 2
    rows, cols = jnp.arange(h)[:, None], jnp.arange(w)[None, :]
    inside = (rows >= y0) & (rows < y0 + ch) & (cols >= x0) & (cols < x0 + cw)
    return jnp.where(inside[None, :, :, None], x[partners], x)


IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# Operators that mix the records of a batch: their reference maps (batch, per-record keys) -> batch.
BATCH_LEVEL = {"mixup", "cutmix"}

RANDOM = {"stochastic": True, "stream_name": "augment"}  # audio configs that default to a fixed transform
# name -> (module, operator, config kwargs, data kind, hand-written per-element function)
CASES: dict[str, tuple[str, str, dict[str, Any], str, Fn]] = {
    "resize": (
        "image",
        "Resize",
        {"height": 32},
        "image",
        lambda x, k: jax.image.resize(x, (32, 32, 3), "linear", antialias=True),
    ),
    "resize_pad": (
        "image",
        "Resize",
        {"height": 32, "width": 48, "mode": "pad"},
        "image",
        lambda x, k: jnp.pad(jax.image.resize(x, (32, 32, 3), "linear", antialias=True), ((0, 0), (8, 8), (0, 0))),
    ),
    "normalize": ("image", "Normalize", {}, "uint8", lambda x, k: x.astype(jnp.float32) / 255.0),
    "normalize_channels": (
        "image",
        "Normalize",
        {"mean": IMAGENET[0], "std": IMAGENET[1]},
        "uint8",
        lambda x, k: (x.astype(jnp.float32) / 255.0 - jnp.asarray(IMAGENET[0])) / jnp.asarray(IMAGENET[1]),
    ),
    "flip": (
        "image",
        "Flip",
        {},
        "image",
        lambda x, k: jnp.where(jax.random.bernoulli(k, 0.5, (1,))[0], x[:, ::-1], x),
    ),
    "crop": ("image", "Crop", {"height": 48}, "image", _crop),
    "brightness": ("image", "Brightness", {}, "image", lambda x, k: x + _param(k, -0.2, 0.2)),
    "contrast": ("image", "Contrast", {}, "image", _contrast),
    "rotate": ("image", "Rotate", {}, "image", _rotate),
    "gaussian_noise": (
        "image",
        "GaussianNoise",
        {},
        "image",
        lambda x, k: x + jax.random.normal(jax.random.split(k, 1)[0], x.shape) * 0.05,
    ),
    "grayscale": ("image", "Grayscale", {}, "image", lambda x, k: x @ jnp.asarray([[0.299], [0.587], [0.114]])),
    "cutout": ("image", "Cutout", {"patch_size": 16}, "image", _cutout),
    "pixel_dropout": (
        "image",
        "PixelDropout",
        {},
        "image",
        lambda x, k: jnp.where(jax.random.bernoulli(k, 0.1, (1, *x.shape[:2]))[0][..., None], 0.0, x),
    ),
    "salt_and_pepper": ("image", "SaltAndPepper", {}, "image", _salt_and_pepper),
    "poisson_noise": (
        "image",
        "PoissonNoise",
        {},
        "image",
        lambda x, k: jax.random.poisson(jax.random.split(k, 1)[0], x * 255.0, x.shape).astype(jnp.float32) / 255.0,
    ),
    "color_jitter": (
        "image",
        "ColorJitter",
        {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1},
        "image",
        _color_jitter,
    ),
    "mixup": ("image", "MixUp", {"label_key": None}, "image", _mixup),
    "cutmix": ("image", "CutMix", {"label_key": None}, "image", _cutmix),
    "gain": ("audio", "Gain", RANDOM, "audio", lambda x, k: x * 10.0 ** (_param(k, -6.0, 6.0) / 20.0)),
    "time_shift": (
        "audio",
        "TimeShift",
        RANDOM,
        "audio",
        lambda x, k: jnp.roll(x, jax.random.randint(k, (1,), -1600, 1601, jnp.int32)[0]),
    ),
    "additive_noise": ("audio", "AdditiveNoise", {}, "audio", _noise_snr),
    "time_mask": ("audio", "TimeMask", {}, "spectrogram", _mask(1)),
    "frequency_mask": ("audio", "FrequencyMask", {}, "spectrogram", _mask(0)),
    "random_crop": ("audio", "RandomCrop", {"length": 8000, **RANDOM}, "audio", _audio_crop),
}


# (records, rounds) for cases that run at a few dozen records/s on the CPU: jax.random.poisson's
# rejection loops, shipped operator and reference alike (~20 ms per 64x64x3 image on 2 cores).
SLOW = {"poisson_noise": (256, 3)}


def shipped(name: str) -> Any:
    """The plugin's operator, built as a user builds it (field ``x``)."""
    import importlib

    module, op, kwargs, _, _ = CASES[name]
    mod = importlib.import_module(f"modalax_{module}")
    config_name = "MaskConfig" if op.endswith("Mask") else f"{op}Config"
    config = getattr(mod, config_name)(field_key="x", **kwargs)
    return getattr(mod, f"{op}Operator")(config, rngs=nnx.Rngs(0, augment=1))


def data_for(kind: str, n: int) -> np.ndarray:
    """The records a case runs over."""
    rng = np.random.default_rng(0)
    if kind == "uint8":
        return rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
    if kind == "image":
        return rng.random((n, 64, 64, 3), dtype=np.float32)
    if kind == "audio":
        return rng.uniform(-0.5, 0.5, (n, 16_000)).astype(np.float32)
    return rng.random((n, 80, 101), dtype=np.float32)


def reference(one: Fn, batch_level: bool = False) -> Any:
    """One jitted call per batch: gather, per-record keys, the element function under vmap
    (a batch operator's function takes the whole batch and its keys)."""
    fn = one if batch_level else jax.vmap(one)

    @jax.jit
    def step(data: jax.Array, idx: jax.Array, epoch_key: jax.Array) -> jax.Array:
        keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.fold_in(epoch_key, i), 0))(idx)
        return fn(jnp.take(data, idx, axis=0), keys)

    return step


def per_batch(step: Any, data: jax.Array, key: jax.Array) -> Contender:
    """The hand-written loop: per epoch a numpy permutation, then one jitted call per batch."""
    n = data.shape[0]
    rng = np.random.default_rng(1)

    def run() -> Any:
        out = None
        for _ in range(EPOCHS):
            perm = rng.permutation(n).astype(np.int32)
            for b in range(n // BATCH):
                out = step(data, perm[b * BATCH : (b + 1) * BATCH], key)
        return out

    return Contender(run=run, first=lambda: step(data, np.arange(BATCH, dtype=np.int32), key))


def endless(loader: DataLoader, batches: int) -> Contender:
    """A loader over endless epochs; each run takes ``batches`` batches."""
    it = iter(loader)

    def run() -> Any:
        out = None
        for _ in range(batches):
            out = next(it)
        return block(out)

    return Contender(run=run, first=lambda: block(next(it)))


def one_case(name: str, n: int, runs: int) -> BenchResult:
    """The shipped operator through the default loader vs its hand-written reference."""
    _, op_name, kwargs, kind, fn = CASES[name]
    data = jax.device_put(data_for(kind, n))
    op = shipped(name)
    check = DataLoader(ArraySource({"x": data}), BATCH, drop_last=True, operators=[op], with_indices=True)
    batch = next(iter(check))
    ref = reference(fn, name in BATCH_LEVEL)
    want = ref(data, np.asarray(batch["index"]), check.epoch_key(0))
    err = float(jnp.max(jnp.abs(batch["x"] - want)))
    assert err <= 1e-5, f"{name}: the hand-written reference differs from {op_name}Operator by {err}"
    loader = DataLoader(ArraySource({"x": data}), BATCH, drop_last=True, operators=[op], num_epochs=None)
    batches = EPOCHS * (n // BATCH)
    res = BenchResult(
        f"{op_name}Operator({', '.join(f'{k}={v}' for k, v in kwargs.items() if k not in RANDOM)}), {n:,} x {kind} "
        f"{tuple(data.shape[1:])}, batch {BATCH}",
        "records/s",
        subject="modalax (DataLoader defaults)",
        target=">= 0.9x hand-written",
        notes=f"max |modalax - reference| = {err:.1e}",
        case=CMD.format(name),
    )
    contenders = {
        res.subject: endless(loader, batches),
        "hand-written jax.jit(vmap), per batch": per_batch(ref, data, check.epoch_key(0)),
    }
    if DEFAULT_PREFETCH != 0:  # what the loader gives without look-ahead (see bench_prefetch.py)
        bare = DataLoader(ArraySource({"x": data}), BATCH, drop_last=True, operators=[op], prefetch=0, num_epochs=None)
        contenders["modalax, prefetch=0"] = endless(bare, batches)
    res.add(race(contenders, batches * BATCH, runs))
    return res


def run(quick: bool = False, runs: int | None = None, case: str | None = None) -> list[BenchResult]:
    """One result per operator."""
    runs = runs or (3 if quick else 9)
    names = case.split(",") if case else list(CASES)
    results = []
    for name in names:
        n, case_runs = 1_024 if quick else 8_192, runs
        if name in SLOW:  # fewer records and rounds, or this one case would take an hour
            n, case_runs = min(n, SLOW[name][0]), min(runs, SLOW[name][1])
        try:
            results.append(one_case(name, n, case_runs))
        except AssertionError as exc:  # a wrong reference is reported, never timed
            results.append(BenchResult(name, "records/s", notes=f"not timed: {exc}", case=CMD.format(name)))
    return results


if __name__ == "__main__":
    main(run, ",".join(CASES))
