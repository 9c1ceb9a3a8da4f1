"""``modalax demo``: the main job, end to end, in a few minutes on a 2-core CPU.

Lists the plugins; builds aligned image+text+audio data; streams it through the loader with
image and audio operators; trains contrastive encoders and a text-to-image generator; reports
retrieval recall@1 against chance before and after; writes pictures, sounds and a summary.
Exits non-zero when training does not beat chance by a wide margin.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

PATTERNS = ("random", "gradient", "checkerboard", "circles")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``modalax demo``."""
    parser.add_argument("--out", default="demo-output", help="output folder (default demo-output/)")
    parser.add_argument("--steps", type=int, default=500, help="training steps of each model (default 500)")
    parser.add_argument("--samples", type=int, default=4096, help="training records (default 4096)")
    parser.add_argument("--eval-samples", type=int, default=512, help="held-out records for retrieval")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--strength", type=float, default=1.0, help="alignment strength of the data")
    parser.add_argument("--seed", type=int, default=0)


def _plugins() -> list[dict[str, Any]]:
    import modalax

    infos = modalax.list_plugins()
    print("plugins:")
    for info in infos:
        print(f"  {info.id:12s} {info.distribution:20s} {info.version:8s} {info.status}")
    return [info.to_dict() for info in infos]


def _stream(dataset: Any, seed: int) -> dict[str, float]:
    """One epoch through the loader with image and audio operators, with a progress bar."""
    from flax import nnx

    from modalax import DataLoader
    from modalax_audio.operators import GainConfig, GainOperator
    from modalax_image.operator_configs import BrightnessConfig, FlipConfig
    from modalax_image.operators import BrightnessOperator, FlipOperator

    rngs = nnx.Rngs(seed, augment=seed + 1)
    operators = [
        FlipOperator(FlipConfig(field_key="image"), rngs=rngs),
        BrightnessOperator(BrightnessConfig(field_key="image", max_delta=0.1, clip_range=(0.0, 1.0)), rngs=rngs),
        GainOperator(GainConfig(stochastic=True, stream_name="augment", min_gain_db=-3.0, max_gain_db=3.0), rngs=rngs),
    ]
    loader = DataLoader(dataset, 256, seed=seed, operators=operators, progress=True)
    start, seen, peak = time.perf_counter(), 0, 0.0
    for batch in loader:
        seen += int(np.asarray(batch["mask"]).sum())
        peak = max(peak, float(np.abs(np.asarray(batch["audio"])).max()))
    elapsed = time.perf_counter() - start
    assert seen == len(dataset), (seen, len(dataset))
    print(
        f"streamed {seen} aligned samples through {len(operators)} operators in {elapsed:.1f} s "
        f"({seen / elapsed:,.0f} samples/s)"
    )
    return {"samples": seen, "seconds": elapsed, "samples_per_s": seen / elapsed, "audio_peak": peak}


def _train_text_to_image(train: Any, val: Any, steps: int, batch_size: int, seed: int) -> tuple[Any, list[float]]:
    import jax
    from flax import nnx

    from modalax import DataLoader
    from modalax_multimodal.generators import TextToImageGenerator
    from modalax_multimodal.training import adam_init, adam_update

    cfg = train.config
    model = TextToImageGenerator(cfg.text_vocab_size, 32, cfg.image_shape, hidden_dim=128, rngs=nnx.Rngs(seed))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    opt = adam_init(params)

    @jax.jit
    def step(params: Any, opt: Any, text: Any, image: Any) -> tuple[Any, Any, Any]:
        def loss_of(p: Any) -> Any:
            m = nnx.merge(graphdef, p, rest)
            return m.loss_fn({"image": image}, m(text))

        loss, grads = jax.value_and_grad(loss_of)(params)
        params, opt = adam_update(params, grads, opt, 3e-3)
        return params, opt, loss

    losses = []
    loader = DataLoader(train, batch_size, seed=seed + 7, drop_last=True, num_epochs=None, prefetch=0)
    for i, batch in enumerate(loader):
        if i >= steps:
            break
        params, opt, loss = step(params, opt, batch["text"], batch["image"])
        losses.append(loss)
    nnx.update(model, params)
    return model, [float(x) for x in jax.device_get(losses)]


def _recall_at_1(model: Any, dataset: Any, n: int) -> dict[str, float]:
    from modalax_multimodal.training import evaluate_retrieval

    result = evaluate_retrieval(model, dataset, num_samples=n, ks=(1,))
    return {pair: float(v["recall@1"]) for pair, v in result.items()}


def _write_outputs(out: Path, val: Any, generator: Any, seed: int, histories: dict[str, list[float]]) -> list[str]:
    import modalax
    from modalax.records import resolve
    from modalax.registry import get_modality_record
    from modalax.viz import image_grid, save_line_plot, save_png

    written: list[Path] = []
    for pattern in PATTERNS:
        ds = _pattern_dataset(pattern, seed)
        images = np.asarray(ds.get_records(np.arange(16, dtype=np.int32))["images"])
        written.append(
            save_png(image_grid(images, ncols=8, value_range=(0.0, 1.0)), out / f"pattern_{pattern}.png", scale=2)
        )
    n = 8
    batch = val.fetch(np.arange(n, dtype=np.int32))
    generated = np.asarray(generator(batch["text"]))
    pairs = np.concatenate([np.asarray(batch["image"]), generated], axis=0)  # targets row, generated row
    written.append(save_png(image_grid(pairs, ncols=n, value_range=(0.0, 1.0)), out / "text_to_image.png", scale=4))
    audio_ds = modalax.create_dataset(
        "audio", "synthetic", n_samples=6, audio_types=["sine", "chirp", "noise"], seed=seed
    )
    preview = resolve(get_modality_record("audio").previewer)
    written += preview(audio_ds.fetch(np.arange(6, dtype=np.int32)), out / "audio")
    aligned = resolve(get_modality_record("multimodal").previewer)
    written += aligned(val.fetch(np.arange(8, dtype=np.int32)), out / "aligned", dataset=val)
    for name, values in histories.items():
        written.append(save_line_plot(values, out / f"loss_{name}.png", title=f"{name} loss per step"))
    return [str(p) for p in written]


def _pattern_dataset(pattern: str, seed: int) -> Any:
    from flax import nnx

    from modalax_image import ImageModalityConfig, SyntheticImageDataset

    config = ImageModalityConfig(height=32, width=32)
    return SyntheticImageDataset(config, dataset_size=16, pattern_type=pattern, rngs=nnx.Rngs(seed))


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 on success, 1 when training does not beat chance."""
    from flax import nnx

    from modalax_multimodal import MultiModalModel, create_synthetic_multi_modal_dataset
    from modalax_multimodal.training import train_contrastive

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    summary: dict[str, Any] = {"plugins": _plugins()}
    common = {
        "alignment_strength": args.strength,
        "rngs": nnx.Rngs(args.seed),
        "image_shape": (16, 16, 3),
        "text_sequence_length": 16,
        "text_vocab_size": 64,
        "audio_duration": 0.25,
    }
    modalities = ["image", "text", "audio"]
    train = create_synthetic_multi_modal_dataset(modalities, args.samples, **common)
    val = create_synthetic_multi_modal_dataset(modalities, args.eval_samples, split="val", **common)
    summary["data"] = {
        "train": len(train),
        "val": len(val),
        "alignment_strength": args.strength,
        "stream": _stream(train, args.seed),
    }

    chance = 1.0 / args.eval_samples
    # All three encoders train together: every pair's InfoNCE term, so audio and text (the
    # weakest pair: 16 coarse tokens against a waveform) also learn through image.
    untrained = MultiModalModel(train.config.replace(embed_dim=32), rngs=nnx.Rngs(args.seed), hidden_dim=64)
    before = _recall_at_1(untrained, val, args.eval_samples)
    print(f"training contrastive encoders for {args.steps} steps ...")
    model, history = train_contrastive(train, args.steps, args.batch_size, seed=args.seed, embed_dim=32, hidden_dim=64)
    after = _recall_at_1(model, val, args.eval_samples)
    print(f"retrieval recall@1 on {args.eval_samples} held-out samples (chance {chance:.4f}):")
    for name in after:
        print(f"  {name:16s} before {before[name]:.3f}   after {after[name]:.3f}")
    print(f"contrastive loss: first {history['loss'][0]:.3f}, last {history['loss'][-1]:.3f}")

    print(f"training a text-to-image generator for {args.steps} steps ...")
    generator, t2i_loss = _train_text_to_image(train, val, args.steps, args.batch_size, args.seed)
    print(f"text-to-image mse: first {t2i_loss[0]:.4f}, last {t2i_loss[-1]:.4f}")

    files = _write_outputs(out, val, generator, args.seed, {"contrastive": history["loss"], "text_to_image": t2i_loss})
    mean_after = float(np.mean(list(after.values())))
    summary.update(
        {
            "chance_recall_at_1": chance,
            "recall_at_1_before": before,
            "recall_at_1_after": after,
            "contrastive_loss": {"first": history["loss"][0], "last": history["loss"][-1]},
            "text_to_image_mse": {"first": t2i_loss[0], "last": t2i_loss[-1]},
            "files": files,
            "seconds": time.perf_counter() - t0,
        }
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {len(files) + 1} files to {out}/ in {summary['seconds']:.0f} s")
    threshold = max(20 * chance, 0.2)
    if mean_after < threshold or t2i_loss[-1] >= t2i_loss[0]:
        print(f"FAILED: mean recall@1 {mean_after:.3f} (needs >= {threshold:.3f}) or the generator did not learn")
        return 1
    print(f"OK: mean recall@1 {mean_after:.3f} is {mean_after / chance:.0f}x chance")
    return 0
