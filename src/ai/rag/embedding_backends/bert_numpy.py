"""BERT sentence-transformers (all-MiniLM-L6-v2 and kin) in plain numpy, for fast cold starts.

Importing torch and building a `SentenceTransformer` takes 5-15 s on a small machine, and
a search query needs one short text embedded. This encoder runs the same forward pass
(BERT encoder, then the model's mean or CLS pooling) with numpy on the model folder's own
`model.safetensors`, memory-mapped, and its own `tokenizer.json` through the `tokenizers`
library: ready in a fraction of a second, with vectors within ~1e-7 cosine of
sentence-transformers' (tested). On large batches it is several times slower than torch,
so `SentenceTransformerBackend` uses it only for small calls made before torch is loaded.

Only folders it can reproduce exactly are accepted: `model_type` "bert" with the exact
(erf) GELU and absolute positions, modules Transformer, Pooling (mean or CLS) and
optionally Normalize, float32 or float16 weights. Anything else raises
`UnsupportedModelError`, and the caller uses sentence-transformers instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
IntMatrix = npt.NDArray[np.int64]

_MODULES = {
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
}
_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}
_ERF_CLIP = np.float32(5.0)  # erf(5) is 1 in float32; clipping keeps exp() out of subnormals
_SOFTMAX_FLOOR = np.float32(-80.0)  # exp(-80) is a normal float32; below it, subnormal slow paths


class UnsupportedModelError(Exception):
    """The folder holds a model this encoder cannot reproduce exactly."""


class Pooling(StrEnum):
    """How token vectors become one sentence vector."""

    MEAN = "mean"
    CLS = "cls"


@dataclass(frozen=True, slots=True)
class BertSettings:
    """What the forward pass needs from the model folder's configuration files."""

    layers: int
    heads: int
    hidden: int
    layer_norm_eps: float
    max_length: int
    pooling: Pooling
    lowercase: bool


class NumpyBertEncoder:
    """A BERT sentence encoder over memory-mapped weights; `encode` gives unnormalised rows.

    Build it with `from_folder`. `encode` sorts texts by length and pads each batch to its
    longest text, as sentence-transformers does.
    """

    def __init__(self, weights: Mapping[str, Matrix], tokenizer: Any, settings: BertSettings):
        self._weights = weights
        self._tokenizer = tokenizer
        self.settings = settings

    @classmethod
    def from_folder(cls, folder: str | Path) -> NumpyBertEncoder:
        """Load a sentence-transformers folder; `UnsupportedModelError` if it cannot be."""
        root = Path(folder)
        settings = read_settings(root)
        try:
            from tokenizers import Tokenizer, normalizers
        except ImportError as error:
            raise UnsupportedModelError("the tokenizers package is not installed") from error
        if not (root / "tokenizer.json").is_file() or not (root / "model.safetensors").is_file():
            raise UnsupportedModelError(f"{root} has no tokenizer.json or model.safetensors")
        tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(settings.max_length)
        if settings.lowercase:  # as sentence-transformers' do_lower_case
            steps = [normalizers.Lowercase()]
            if tokenizer.normalizer is not None:
                steps.append(tokenizer.normalizer)
            tokenizer.normalizer = normalizers.Sequence(steps)
        raw = read_safetensors(root / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in raw else ""
        weights = {
            name.removeprefix(prefix): array if array.dtype == np.float32 else array.astype("f4")
            for name, array in raw.items()
            if np.issubdtype(array.dtype, np.floating)
        }
        if "embeddings.word_embeddings.weight" not in weights:
            raise UnsupportedModelError(f"{root}/model.safetensors holds no BERT weights")
        return cls(weights, tokenizer, settings)

    @property
    def dimension(self) -> int:
        """Size of the sentence vectors (the hidden size)."""
        return self.settings.hidden

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Matrix:
        """One row per text, in order (not normalised; the service normalises)."""
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.float32)
            for row, index in enumerate(rows):
                tokens = encodings[index].ids
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1.0
            out[rows] = self._pool(self._forward(ids, mask), mask)
        return out

    def _forward(self, ids: IntMatrix, mask: Matrix) -> Matrix:
        """Token vectors (batch, tokens, hidden) from BERT's embeddings and encoder layers."""
        w, s = self._weights, self.settings
        width = ids.shape[1]
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:width]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        # masked keys get the most negative float, as transformers' additive mask
        bias = (1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min
        for layer in range(s.layers):
            x = self._layer(x, bias, f"encoder.layer.{layer}.")
        return x

    def _layer(self, x: Matrix, bias: Matrix, name: str) -> Matrix:
        """One encoder layer: self-attention and feed-forward, each with residual + norm."""
        batch, width, hidden = x.shape
        heads = self.settings.heads
        size = hidden // heads

        def project(part: str) -> Matrix:
            y = self._linear(x, f"{name}attention.self.{part}")
            return y.reshape(batch, width, heads, size).transpose(0, 2, 1, 3)

        query, key, value = project("query"), project("key"), project("value")
        scores = (query @ key.transpose(0, 1, 3, 2)) * np.float32(1.0 / np.sqrt(size)) + bias
        scores = np.maximum(scores - scores.max(axis=-1, keepdims=True), _SOFTMAX_FLOOR)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch, width, hidden)
        attended = self._linear(context, f"{name}attention.output.dense") + x
        x = self._norm(attended, f"{name}attention.output.LayerNorm")
        inner = gelu(self._linear(x, f"{name}intermediate.dense"))
        return self._norm(self._linear(inner, f"{name}output.dense") + x, f"{name}output.LayerNorm")

    def _linear(self, x: Matrix, name: str) -> Matrix:
        result: Matrix = x @ self._weights[f"{name}.weight"].T + self._weights[f"{name}.bias"]
        return result

    def _norm(self, x: Matrix, name: str) -> Matrix:
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        scale = self._weights[f"{name}.weight"] / np.sqrt(variance + self.settings.layer_norm_eps)
        result: Matrix = centred * scale + self._weights[f"{name}.bias"]
        return result

    def _pool(self, tokens: Matrix, mask: Matrix) -> Matrix:
        if self.settings.pooling is Pooling.CLS:
            return tokens[:, 0]
        weights = mask[:, :, None]
        counts = np.maximum(weights.sum(axis=1), np.float32(1e-9))
        pooled: Matrix = (tokens * weights).sum(axis=1) / counts
        return pooled


def gelu(x: Matrix) -> Matrix:
    """BERT's exact GELU, x * Φ(x), with erf to float32 precision."""
    result: Matrix = 0.5 * x * (1.0 + _erf(x * np.float32(1.0 / np.sqrt(2.0))))
    return result


def _erf(x: Matrix) -> Matrix:
    """erf with a fractional error under 1.2e-7 (Numerical Recipes' erfc, Chebyshev fit)."""
    z = np.minimum(np.abs(x), _ERF_CLIP)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -0.82215223 + t * 0.17087277
    for coefficient in (1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418):
        poly = coefficient + t * poly
    poly = 1.00002368 + t * (0.37409196 + t * poly)
    erfc = t * np.exp(-z * z - 1.26551223 + t * poly)
    result: Matrix = np.where(x >= 0, 1.0 - erfc, erfc - 1.0).astype(np.float32, copy=False)
    return result


def read_settings(root: Path) -> BertSettings:
    """The forward-pass settings of a sentence-transformers folder, or
    `UnsupportedModelError` saying why this encoder cannot reproduce it."""
    config = _json(root / "config.json")
    if config.get("model_type") != "bert":
        raise UnsupportedModelError(f"model_type {config.get('model_type')!r} is not 'bert'")
    if config.get("hidden_act", "gelu") != "gelu":
        raise UnsupportedModelError(f"hidden_act {config.get('hidden_act')!r} is not 'gelu'")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise UnsupportedModelError("only absolute position embeddings are supported")
    modules = _json(root / "modules.json", default=[])
    types = [str(module.get("type")) for module in modules]
    if (
        not types
        or types[0] != "sentence_transformers.models.Transformer"
        or not (set(types) <= _MODULES)
    ):
        raise UnsupportedModelError(f"modules {types} are not Transformer, Pooling, Normalize")
    pooling_paths = [m.get("path", "") for m in modules if str(m.get("type")).endswith("Pooling")]
    modes = _json(root / pooling_paths[0] / "config.json") if pooling_paths else {}
    chosen = sorted(key for key, on in modes.items() if key.startswith("pooling_mode") and on)
    pooling = {
        "pooling_mode_mean_tokens": Pooling.MEAN,
        "pooling_mode_cls_token": Pooling.CLS,
    }.get(chosen[0] if len(chosen) == 1 else "")
    if pooling is None:
        raise UnsupportedModelError(f"pooling {chosen} is not mean or CLS alone")
    st_config = _json(root / "sentence_bert_config.json", default={})
    positions = int(config.get("max_position_embeddings", 512))
    return BertSettings(
        layers=int(config["num_hidden_layers"]),
        heads=int(config["num_attention_heads"]),
        hidden=int(config["hidden_size"]),
        layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
        max_length=min(int(st_config.get("max_seq_length") or positions), positions),
        pooling=pooling,
        lowercase=bool(st_config.get("do_lower_case", False)),
    )


def read_safetensors(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Arrays of a safetensors file, memory-mapped (pages are read as they are used)."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    header_size = int.from_bytes(bytes(data[:8]), "little")
    header = json.loads(bytes(data[8 : 8 + header_size]))
    base = 8 + header_size
    arrays: dict[str, npt.NDArray[Any]] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(entry["dtype"])
        if dtype is None:
            raise UnsupportedModelError(f"{path}: tensor {name} has dtype {entry['dtype']}")
        start, end = entry["data_offsets"]
        count = (end - start) // np.dtype(dtype).itemsize
        array = np.frombuffer(data, dtype=dtype, count=count, offset=base + start)
        arrays[name] = array.reshape(entry["shape"])
    return arrays


def _json(path: Path, default: Any = None) -> Any:
    if not path.is_file():
        if default is None:
            raise UnsupportedModelError(f"{path} is missing")
        return default
    return json.loads(path.read_text(encoding="utf-8"))
