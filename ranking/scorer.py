"""Which scorer serves: the trained checkpoint when one exists, else the baseline, and say so.

The trained scorer is a fine-tuned bi-encoder (:mod:`ranking.train`): the same model
embeds the catalogue into its own Chroma index and the dialogue at query time, and the
popularity prior is added back with the weight tuned on ``valid``. ``tailtalk index``
and the turn pipeline both resolve the scorer here, so they always agree on the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from safetensors import SafetensorError

from tailtalk.config import Settings
from retrieval.embedder import Embedder, SentenceTransformerEmbedder, make_embedder
from ranking.train import SCORER_META, read_scorer_meta, scorer_model_name
from tailtalk.errors import UserError


class CheckpointError(UserError, RuntimeError):
    """scorer=trained was asked for, but the checkpoint is missing or unreadable."""


# What loading a damaged checkpoint raises: a missing or garbled file (OSError, ValueError, or KeyError
# from a config lacking a key), a value of the wrong type (TypeError), weights of the wrong shape
# (torch's RuntimeError), a torn weights file (SafetensorError).
_UNLOADABLE = (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError)
_META_FIELDS = ("run_id", "prior_weight", "profile", "trained_at")


@dataclass(frozen=True)
class ScorerChoice:
    embedder: Embedder
    prior_weight: float
    description: str
    trained: bool
    warning: str | None = None  # shown to the user: why the trained scorer is not serving


def resolve_scorer(settings: Settings) -> ScorerChoice:
    """The trained scorer, or the baseline with a warning for the user when a checkpoint cannot serve.

    Under ``auto`` no checkpoint at the default place just means none was trained; a
    checkpoint the user named that does not exist is worth a warning.
    """
    checkpoint = settings.checkpoint_path
    if settings.scorer == "baseline" or (
        settings.scorer == "auto" and settings.checkpoint is None and not (checkpoint / SCORER_META).exists()
    ):
        return _baseline(settings, None)
    try:
        return _trained(settings, checkpoint)
    except _UNLOADABLE as exc:
        if settings.scorer == "trained":
            raise CheckpointError(
                f"the trained scorer at {checkpoint} cannot be loaded ({exc}); "
                "run `tailtalk train`, or set scorer=baseline"
            ) from exc
        return _baseline(
            settings,
            f"the trained scorer at {checkpoint} is unreadable ({exc}); "
            "serving the baseline scorer. Run `tailtalk train` to rebuild it",
        )


def _baseline(settings: Settings, warning: str | None) -> ScorerChoice:
    embedder = make_embedder(settings.embedding_model, settings.embedding_batch_size)
    return ScorerChoice(
        embedder,
        settings.popularity_weight,
        "baseline scorer (the packaged all-MiniLM-L6-v2; no trained checkpoint)",
        trained=False,
        warning=warning,
    )


def _trained(settings: Settings, checkpoint: Path) -> ScorerChoice:
    meta = read_scorer_meta(checkpoint)
    if not isinstance(meta, dict) or any(field not in meta for field in _META_FIELDS):
        raise ValueError(
            f"{checkpoint / SCORER_META} does not describe a trained scorer (it needs {', '.join(_META_FIELDS)})"
        )
    embedder = SentenceTransformerEmbedder(
        str(checkpoint), batch_size=settings.embedding_batch_size, name=scorer_model_name(meta["run_id"])
    )
    weight = float(meta["prior_weight"])
    return ScorerChoice(
        embedder, weight, f"trained scorer ({meta['profile']} profile, {meta['trained_at']})", trained=True
    )
