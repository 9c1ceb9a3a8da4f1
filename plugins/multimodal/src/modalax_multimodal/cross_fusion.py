"""Fusion across modalities beyond one token each: cross-modal attention and hierarchical fusion.

``CrossModalAttention``: the tokens of one modality (queries, e.g. text tokens) attend to the
tokens of another (keys and values, e.g. image patches), through ``nnx.MultiHeadAttention``.
``HierarchicalFusion``: modality embeddings are fused pairwise, then the pairs are fused, along
a tree (by default ``((image, text), audio)``); each modality's embedding may have its own size,
and the inner ("group") nodes and the root have their own widths.  Both take presence masks (the
``modality_mask`` that ``ModalityDropout`` writes): an absent modality contributes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from modalax.plugin import ConfigError, DataError

__all__ = ["CrossModalAttention", "HierarchicalFusion", "default_tree"]

Tree = str | tuple[Any, ...]


def _as_tokens(x: jax.Array, owner: str, name: str) -> tuple[jax.Array, bool]:
    """``(B, L, D)`` tokens; a ``(B, D)`` input is one token per sample (``squeeze`` True)."""
    if x.ndim == 2:
        return x[:, None, :], True
    if x.ndim == 3:
        return x, False
    raise DataError(f"{owner}: {name} has shape {tuple(x.shape)}, expected (B, L, D) tokens or (B, D) embeddings")


def _as_mask(mask: Any, shape: tuple[int, ...], owner: str, name: str) -> jax.Array:
    if mask is None:
        return jnp.ones(shape, bool)
    m = jnp.asarray(mask).astype(bool)
    if m.shape == shape[:1]:  # one flag per sample: is the modality there at all
        m = jnp.broadcast_to(m[:, None], shape)
    if m.shape != shape:
        raise DataError(
            f"{owner}: {name} has shape {tuple(m.shape)}, expected {shape} (batch, tokens) or {shape[:1]} (batch,)"
        )
    return m


class CrossModalAttention(nnx.Module):
    """Queries from modality A attend to keys and values from modality B (multi-head).

    ``queries (B, Lq, query_dim)`` or ``(B, query_dim)``; ``context (B, Lk, context_dim)`` or
    ``(B, context_dim)``.  ``context_mask (B, Lk)`` (or ``(B,)``: is modality B present) hides
    context tokens; ``query_mask`` marks valid queries.  A query with no visible context token
    (or itself masked) gets a zero output, so an absent modality adds nothing to a residual.
    The output has ``out_features`` (default ``query_dim``) and the rank of ``queries``.
    """

    def __init__(
        self,
        query_dim: int,
        context_dim: int | None = None,
        num_heads: int = 4,
        *,
        qkv_features: int | None = None,
        out_features: int | None = None,
        dropout_rate: float = 0.0,
        rngs: nnx.Rngs,
    ) -> None:
        qkv = qkv_features or query_dim
        if num_heads <= 0 or qkv % num_heads:
            raise ConfigError(
                f"CrossModalAttention.num_heads: got {num_heads}, expected a positive divisor of qkv_features={qkv}"
            )
        self.query_dim = int(query_dim)
        self.context_dim = int(context_dim or query_dim)
        self.num_heads = int(num_heads)
        self.attention = nnx.MultiHeadAttention(
            num_heads,
            self.query_dim,
            qkv,
            out_features or self.query_dim,
            in_kv_features=self.context_dim,
            dropout_rate=dropout_rate,
            decode=False,
            rngs=rngs,
        )

    def __call__(
        self,
        queries: jax.Array,
        context: jax.Array,
        *,
        query_mask: Any = None,
        context_mask: Any = None,
        deterministic: bool = True,
    ) -> jax.Array:
        owner = "CrossModalAttention"
        q, squeeze = _as_tokens(jnp.asarray(queries), owner, "queries")
        kv, _ = _as_tokens(jnp.asarray(context), owner, "context")
        if q.shape[0] != kv.shape[0]:
            raise DataError(f"{owner}: batch sizes differ: queries {q.shape[0]}, context {kv.shape[0]}")
        if q.shape[-1] != self.query_dim or kv.shape[-1] != self.context_dim:
            raise DataError(
                f"{owner}: got feature sizes {q.shape[-1]} (queries) and {kv.shape[-1]} (context), "
                f"expected {self.query_dim} and {self.context_dim}"
            )
        qm = _as_mask(query_mask, q.shape[:2], owner, "query_mask")
        km = _as_mask(context_mask, kv.shape[:2], owner, "context_mask")
        mask = qm[:, None, :, None] & km[:, None, None, :]
        out = self.attention(q, kv, kv, mask=mask, deterministic=deterministic)
        # a fully masked row is a uniform average over hidden values in flax; here it is zero
        valid = qm & jnp.any(km, axis=-1, keepdims=True)
        out = jnp.where(valid[..., None], out, 0.0)
        return out[:, 0] if squeeze else out


def default_tree(modalities: Sequence[str]) -> Tree:
    """Pair neighbours, then pairs of pairs: ``[a, b, c]`` -> ``((a, b), c)``; four give ``((a, b), (c, d))``."""
    level: list[Tree] = list(modalities)
    while len(level) > 1:
        paired: list[Tree] = [tuple(level[i : i + 2]) for i in range(0, len(level) - 1, 2)]
        level = paired + ([level[-1]] if len(level) % 2 else [])
    return level[0]


def _leaves(tree: Tree, owner: str) -> list[str]:
    if isinstance(tree, str):
        return [tree]
    if not isinstance(tree, tuple | list) or len(tree) < 2:
        raise ConfigError(f"{owner}.tree: got node {tree!r}, expected a modality name or a tuple of >= 2 subtrees")
    return [leaf for child in tree for leaf in _leaves(child, owner)]


def _label(tree: Tree) -> str:
    return tree if isinstance(tree, str) else "(" + "+".join(_label(c) for c in tree) + ")"


def _width(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{owner}.{name}: got {value!r}, expected a positive int")
    return int(value)


class HierarchicalFusion(nnx.Module):
    """Fuse modality embeddings along a tree: each inner node is ``gelu(W [c_1; ...; c_k] + b)``.

    ``modalities`` names the inputs (and the order of a ``(B, M)`` mask); ``tree`` is nested
    tuples of those names, each used once (default ``default_tree(modalities)``).
    ``embed_dim`` is every input's size, or ``{modality: size}`` when the modalities' embeddings
    differ.  Inner nodes are ``group_dim`` wide (one int, or ``{node label: width}`` such as
    ``{"(image+text)": 48}``, others at the default) and the root ``output_dim`` wide; both
    default to ``embed_dim`` (the largest input size when sizes differ).  Absent children (mask
    False) enter a node as zeros, so their values never matter; a node with no present child
    outputs zeros and counts as absent for its parent.
    """

    def __init__(
        self,
        modalities: Sequence[str],
        embed_dim: int | Mapping[str, int],
        tree: Tree | None = None,
        *,
        group_dim: int | Mapping[str, int] | None = None,
        output_dim: int | None = None,
        rngs: nnx.Rngs,
    ) -> None:
        owner = "HierarchicalFusion"
        if isinstance(modalities, str) or len(modalities) < 2 or len(set(modalities)) != len(modalities):
            raise ConfigError(f"{owner}.modalities: got {modalities!r}, expected at least two distinct names")
        self.modalities = tuple(modalities)
        self.input_dims = self._input_dims(owner, embed_dim)
        self.tree = default_tree(self.modalities) if tree is None else _freeze(tree)
        leaves = _leaves(self.tree, owner)
        if sorted(leaves) != sorted(self.modalities):
            raise ConfigError(
                f"{owner}.tree: got leaves {leaves}, expected each of {list(self.modalities)} exactly once"
            )
        default = max(self.input_dims.values())
        root = _label(self.tree)
        groups = self._group_widths(owner, group_dim, default, root)
        self.output_dim = default if output_dim is None else _width(owner, "output_dim", output_dim)
        self.labels: list[str] = []
        self.widths: dict[str, int] = dict(self.input_dims)
        layers: list[nnx.Linear] = []

        def build(node: Tree) -> int:
            if isinstance(node, str):
                return self.input_dims[node]
            fan_in = sum(build(child) for child in node)
            label = _label(node)
            width = self.output_dim if label == root else groups.get(label, default)
            self.labels.append(label)
            self.widths[label] = width
            layers.append(nnx.Linear(fan_in, width, rngs=rngs))
            return width

        build(self.tree)
        self.layers = nnx.List(layers)

    @property
    def embed_dim(self) -> int:
        """The width of the fused output (``output_dim``)."""
        return self.output_dim

    def _input_dims(self, owner: str, embed_dim: Any) -> dict[str, int]:
        if isinstance(embed_dim, Mapping):
            if sorted(embed_dim) != sorted(self.modalities):
                raise ConfigError(
                    f"{owner}.embed_dim: got sizes for {sorted(embed_dim)}, "
                    f"expected one for each of {list(self.modalities)}"
                )
            return {m: _width(owner, f"embed_dim[{m!r}]", embed_dim[m]) for m in self.modalities}
        return dict.fromkeys(self.modalities, _width(owner, "embed_dim", embed_dim))

    def _group_widths(self, owner: str, group_dim: Any, default: int, root: str) -> dict[str, int]:
        inner: list[str] = []

        def visit(node: Tree) -> None:
            if not isinstance(node, str):
                for child in node:
                    visit(child)
                if _label(node) != root:
                    inner.append(_label(node))

        visit(self.tree)
        if group_dim is None:
            return dict.fromkeys(inner, default)
        if not isinstance(group_dim, Mapping):
            return dict.fromkeys(inner, _width(owner, "group_dim", group_dim))
        unknown = sorted(set(group_dim) - set(inner))
        if unknown:
            raise ConfigError(
                f"{owner}.group_dim: got widths for {unknown}, expected inner nodes among {inner} "
                f"(the root {root!r} is sized by output_dim)"
            )
        return {label: _width(owner, f"group_dim[{label!r}]", group_dim.get(label, default)) for label in inner}

    def nodes(self, embeddings: Mapping[str, Any] | Sequence[Any], mask: Any = None) -> dict[str, jax.Array]:
        """Every node's output ``{label: (B, width)}`` (leaves and inner nodes, the root last)."""
        embs = self._inputs(embeddings)
        batch = next(iter(embs.values())).shape[0]
        present = self._mask(mask, batch)
        out: dict[str, jax.Array] = {}
        counter = iter(range(len(self.layers)))

        def visit(node: Tree) -> tuple[jax.Array, jax.Array]:
            if isinstance(node, str):
                value, here = embs[node], present[node]
            else:
                children = [visit(child) for child in node]
                stacked = jnp.concatenate([jnp.where(p[:, None], v, 0.0) for v, p in children], axis=-1)
                here = jnp.any(jnp.stack([p for _, p in children]), axis=0)
                value = jnp.where(here[:, None], jax.nn.gelu(self.layers[next(counter)](stacked)), 0.0)
            out[_label(node)] = value
            return value, here

        visit(self.tree)
        return out

    def __call__(self, embeddings: Mapping[str, Any] | Sequence[Any], mask: Any = None) -> jax.Array:
        """The root's output ``(B, output_dim)`` (``(output_dim,)`` for unbatched inputs)."""
        unbatched = _is_unbatched(embeddings)
        if unbatched:
            embeddings = _add_batch(embeddings)
            mask = None if mask is None else jax.tree.map(lambda m: jnp.asarray(m)[None], mask)
        root = self.nodes(embeddings, mask)[_label(self.tree)]
        return root[0] if unbatched else root

    def _inputs(self, embeddings: Mapping[str, Any] | Sequence[Any]) -> dict[str, jax.Array]:
        owner = "HierarchicalFusion"
        if not isinstance(embeddings, Mapping):
            if len(embeddings) != len(self.modalities):
                raise DataError(f"{owner}: got {len(embeddings)} embeddings, expected {len(self.modalities)}")
            embeddings = dict(zip(self.modalities, embeddings, strict=True))
        missing = [m for m in self.modalities if m not in embeddings]
        if missing:
            raise DataError(f"{owner}: no embedding for {missing}; got {sorted(embeddings)}")
        embs = {m: jnp.asarray(embeddings[m], jnp.float32) for m in self.modalities}
        shapes = {m: tuple(e.shape) for m, e in embs.items()}
        wrong = any(len(s) != 2 or s[1] != self.input_dims[m] for m, s in shapes.items())
        if wrong or len({s[0] for s in shapes.values()}) != 1:
            expected = {m: f"(B, {d})" for m, d in self.input_dims.items()}
            raise DataError(f"{owner}: got embedding shapes {shapes}, expected {expected} with one B")
        return embs

    def _mask(self, mask: Any, batch: int) -> dict[str, jax.Array]:
        if mask is None:
            return {m: jnp.ones((batch,), bool) for m in self.modalities}
        if isinstance(mask, Mapping):
            return {m: jnp.asarray(mask.get(m, True), bool) * jnp.ones((batch,), bool) for m in self.modalities}
        arr = jnp.asarray(mask).astype(bool)
        if arr.shape != (batch, len(self.modalities)):
            raise DataError(
                f"HierarchicalFusion: mask has shape {tuple(arr.shape)}, expected ({batch}, {len(self.modalities)}) "
                f"in the order {list(self.modalities)}"
            )
        return {m: arr[:, i] for i, m in enumerate(self.modalities)}


def _freeze(tree: Any) -> Tree:
    return tree if isinstance(tree, str) else tuple(_freeze(c) for c in tree)


def _is_unbatched(embeddings: Any) -> bool:
    values = list(embeddings.values()) if isinstance(embeddings, Mapping) else list(embeddings)
    return bool(values) and all(jnp.ndim(v) == 1 for v in values)


def _add_batch(embeddings: Any) -> Any:
    if isinstance(embeddings, Mapping):
        return {k: jnp.asarray(v)[None] for k, v in embeddings.items()}
    return [jnp.asarray(v)[None] for v in embeddings]
