"""``ImageModality``: shapes, processing into the model's range, loss and adapter."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.plugin import Compose, ConfigError, DataError, GenerativeModel, check_choice
from modalax_image import kernels
from modalax_image.adapter import ImageAdapter, image_mse
from modalax_image.augment import augment_batch, augmentation_operators
from modalax_image.config import ImageModalityConfig
from modalax_image.decode import DEFAULT_BACKGROUND, background_pixel, check_background

__all__ = ["ImageModality"]

NAN_POLICIES = ("raise", "propagate", "zero")


def _draw_key(rngs: nnx.Rngs) -> jax.Array:
    return rngs.augment() if "augment" in rngs else rngs.default()


@functools.partial(
    jax.jit,
    static_argnames=(
        "height",
        "width",
        "method",
        "mode",
        "fill",
        "input_range",
        "output_range",
        "augment",
        "nan_to_zero",
    ),
)
def _process_batch(
    x: jax.Array,
    key: jax.Array | None,
    *,
    height: int,
    width: int,
    method: str,
    mode: str,
    fill: tuple[float, ...],
    input_range: tuple[float, float],
    output_range: tuple[float, float],
    augment: bool,
    nan_to_zero: bool,
) -> jax.Array:
    x = kernels.to_float(x)
    if nan_to_zero:
        x = jnp.nan_to_num(x, nan=float(input_range[0]), posinf=float(input_range[1]), neginf=float(input_range[0]))
    x = kernels.normalize(x, input_range, output_range)
    x = kernels.resize(x, height, width, method, mode=mode, fill=fill)
    if augment:
        assert key is not None  # the callers pass a key whenever augment=True
        x = augment_batch(x, key, output_range)
    return jnp.clip(x, *output_range)


class ImageModality(GenerativeModel):
    """The image modality: ``(height, width, channels)`` images in ``config.value_range``.

    ``process`` turns raw images (uint8, uint16, or floats in [0, 1]) into model
    input: resized with ``config.resize_method``, mapped to [0, 1] (``normalize=True``) or
    [-1, 1] (``normalize=False``) and, when ``config.augmentation`` is set and the module is
    in training mode (``train()``/``eval()``, or ``training=``), augmented.
    """

    name = "image"

    @classmethod
    def pairing(cls, **options: Any) -> Any:
        """The multimodal pairing: ``ImagePairing(**options)``, options ``shape`` (H, W, C) and ``data_range``."""
        from modalax_image.pairing import ImagePairing

        return ImagePairing(**options)

    def __init__(self, config: ImageModalityConfig | None = None, *, rngs: nnx.Rngs) -> None:
        if config is None:
            config = ImageModalityConfig()
        if not isinstance(config, ImageModalityConfig):
            raise ConfigError(f"ImageModality.config: got {type(config).__name__}, expected an ImageModalityConfig")
        if not isinstance(rngs, nnx.Rngs):
            raise ConfigError(f"ImageModality.rngs: got {type(rngs).__name__}, expected nnx.Rngs")
        self.config = config
        self.rngs = rngs
        self.deterministic = False  # nnx's train()/eval() flip it: augmentation only in training

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)``."""
        return self.config.image_shape

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """Shape of one generated or processed image (``image_shape``)."""
        return self.config.image_shape

    # ------------------------------------------------------------- generation
    def generate(
        self,
        n_samples: int = 1,
        height: int | None = None,
        width: int | None = None,
        *,
        rngs: nnx.Rngs | None = None,
        **kwargs: Any,
    ) -> jax.Array:
        """Smooth random images ``(n_samples, height, width, channels)`` in ``value_range``.

        Without a trained model the modality draws low-frequency noise (uniform values on a
        coarse grid, bilinearly upsampled): a placeholder with the right shape and range.
        """
        h = self.config.height if height is None else height
        w = self.config.width if width is None else width
        for name, value in (("n_samples", n_samples), ("height", h), ("width", w)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"ImageModality.generate.{name}: got {value!r}, expected a positive int")
        channels = self.config.channels
        # ImageModalityConfig.__post_init__ fills width=None with height and channels=None from the representation
        assert w is not None and channels is not None
        key = (rngs or self.rngs).default()
        coarse = jax.random.uniform(key, (n_samples, max(2, h // 8), max(2, w // 8), channels))
        lo, hi = self.config.value_range
        return kernels.resize(coarse, h, w, "bilinear") * (hi - lo) + lo

    # ------------------------------------------------------------- processing
    def _input_range(self, x: Any, input_range: tuple[float, float] | None) -> tuple[float, float]:
        if input_range is not None:
            if len(input_range) != 2 or not float(input_range[0]) < float(input_range[1]):
                raise ConfigError(f"ImageModality.process.input_range: got {input_range!r}, expected (low, high)")
            return (float(input_range[0]), float(input_range[1]))
        if x.dtype == np.bool_:
            raise DataError("ImageModality.process: got boolean images, expected integer or float pixels")
        if np.issubdtype(x.dtype, np.integer) and x.dtype not in (np.uint8, np.uint16):
            # int32/int64 arrays usually hold 0..255 (numpy's default ints): dividing by the
            # dtype's max would silently give black images.
            raise DataError(
                f"ImageModality.process: got images of dtype {x.dtype}, whose value range is unknown; expected "
                "uint8, uint16 or float in [0, 1], or pass input_range=(low, high), e.g. (0, 255)"
            )
        return kernels.unit_range("process", x.dtype)

    def _check_values(self, x: Any, in_range: tuple[float, float], nan_policy: str) -> None:
        if isinstance(x, jax.core.Tracer) or not np.issubdtype(x.dtype, np.floating):
            return  # traced values cannot be inspected; integers are always finite
        finite = jnp.isfinite(x)
        bad = int(jnp.size(x) - jnp.sum(finite))
        if bad and nan_policy == "raise":
            raise DataError(
                f"ImageModality.process: the images contain {bad} NaN/inf value(s); expected finite pixels "
                "(or pass nan_policy='zero' to replace them, 'propagate' to keep them)"
            )
        lo, hi = in_range
        vals = jnp.where(finite, x, lo)
        vmin, vmax = float(jnp.min(vals)), float(jnp.max(vals))
        slack = 1e-3 * (hi - lo)
        if vmin < lo - slack or vmax > hi + slack:
            hint = " (uint8-scaled floats? pass input_range=(0, 255))" if vmax > 1.5 and hi == 1.0 else ""
            raise DataError(
                f"ImageModality.process: pixel values span [{vmin:g}, {vmax:g}], expected input_range "
                f"[{lo:g}, {hi:g}]{hint}"
            )

    def process(
        self,
        data: Any,
        *,
        training: bool | None = None,
        rngs: nnx.Rngs | None = None,
        input_range: tuple[float, float] | None = None,
        nan_policy: str = "raise",
        flatten: bool = False,
        background: tuple[int, int, int] = DEFAULT_BACKGROUND,
        **kwargs: Any,
    ) -> jax.Array:
        """Images ``(H, W, C)`` or ``(N, H, W, C)`` -> model input of the configured size and range.

        ``input_range`` defaults to ``(0, 255)`` for uint8, ``(0, 65535)`` for uint16 and
        ``(0, 1)`` for floats; other integer dtypes need it given.  Concrete inputs outside it
        raise ``DataError``.  ``nan_policy``: ``"raise"`` (default;
        checked on concrete inputs), ``"zero"`` (NaN to the low end, inf to the ends) or
        ``"propagate"``.  ``flatten=True`` returns ``(N, H*W*C)`` features for fusion.
        Images of another aspect ratio are fitted by ``config.resize_mode`` as ``decode_image``
        fits files (``pad`` fills the bars with ``background``, an ``(r, g, b)`` of 0-255 ints).
        """
        check_choice("ImageModality.process", "nan_policy", nan_policy, NAN_POLICIES)
        x = data if isinstance(data, jax.Array | np.ndarray) else np.asarray(data)
        if x.ndim not in (3, 4):
            raise DataError(
                f"ImageModality.process: got shape {tuple(x.shape)} (rank {x.ndim}), expected (H, W, C) or (N, H, W, C)"
            )
        if x.shape[-1] != self.config.channels:
            raise DataError(
                f"ImageModality.process: got {x.shape[-1]} channel(s) (shape {tuple(x.shape)}), expected "
                f"{self.config.channels} for {self.config.representation.name}; convert first "
                "(e.g. the image.to_grayscale kernel)"
            )
        bg = check_background("ImageModality.process", background)
        in_range = self._input_range(x, input_range)
        if nan_policy != "propagate":
            self._check_values(x, in_range, nan_policy)
        single = x.ndim == 3
        batch = x[None] if single else x
        is_training = (not self.deterministic) if training is None else bool(training)
        augment = bool(self.config.augmentation and is_training)
        key = _draw_key(rngs or self.rngs) if augment else None
        out = _process_batch(
            batch,
            key,
            height=self.config.height,
            width=self.config.width,
            method=str(self.config.resize_method),
            mode=str(self.config.resize_mode),
            fill=self._fill(bg),
            input_range=in_range,
            output_range=self.config.value_range,
            augment=augment,
            nan_to_zero=nan_policy == "zero",
        )
        if flatten:
            return out.reshape(out.shape[0], -1)[0] if single else out.reshape(out.shape[0], -1)
        return out[0] if single else out

    def _fill(self, background: tuple[int, int, int]) -> tuple[float, ...]:
        """The letterbox colour per channel in the value range (as ``decode_image`` fills bars)."""
        lo, hi = self.config.value_range
        unit = background_pixel(self.config, background)
        return tuple(float(lo + v * (hi - lo)) for v in unit)

    def postprocess(self, data: jax.Array) -> jax.Array:
        """Model-range images back to [0, 1] (for viewing and saving)."""
        lo, hi = self.config.value_range
        return jnp.clip((jnp.asarray(data) - lo) / (hi - lo), 0.0, 1.0)

    # ------------------------------------------------------- training helpers
    def loss_fn(self, batch: Any, model_outputs: Any, **kwargs: Any) -> jax.Array:
        """Mean squared error between ``batch["images"]`` and the model's images."""
        return image_mse(batch, model_outputs)

    def get_adapter(self, model_cls: type) -> ImageAdapter:
        """An adapter building ``model_cls`` with this modality's shapes, range and loss."""
        return ImageAdapter(model_cls, self.config)

    def get_extensions(self, config: Any, *, rngs: nnx.Rngs) -> dict[str, Any]:
        """``{"augmentation": Compose([...])}`` when augmentation is on, else ``{}``.

        ``config`` may be None (use the modality's config), an ``ImageModalityConfig`` or a
        mapping with an ``"augmentation"`` flag.  The operators draw from the ``"augment"``
        stream, so ``rngs`` must have it: ``nnx.Rngs(0, augment=1)``.
        """
        cfg = self.config
        enabled = cfg.augmentation
        if isinstance(config, ImageModalityConfig):
            cfg, enabled = config, config.augmentation
        elif isinstance(config, Mapping):
            enabled = bool(config.get("augmentation", enabled))
        elif config is not None:
            raise ConfigError(
                f"ImageModality.get_extensions.config: got {type(config).__name__}, "
                "expected None, an ImageModalityConfig or a mapping"
            )
        if not enabled:
            return {}
        return {"augmentation": Compose(augmentation_operators(cfg.value_range, rngs=rngs), name="image_augmentation")}
