"""The text scorer, one object: which one serves (the trained checkpoint when one exists, else the baseline,
and say so), and training one.

The trained scorer is a fine-tuned bi-encoder (:mod:`ranking.train`): the same model
embeds the catalogue into its own Chroma index and the dialogue at query time, and the
popularity prior is added back with the weight tuned on ``valid``. ``tailtalk train``,
``tailtalk index``, the pipeline and eval all go through :class:`TextScorer`, so they always agree on the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence
from pathlib import Path

from safetensors import SafetensorError

from tailtalk.catalog import Catalog
from tailtalk.dialogues import Dialogue
from tailtalk.config import Settings
from retrieval.embedder import Embedder, make_embedder
from ranking.train import SCORER_META, TrainConfig, TrainReport, read_scorer_meta, scorer_model_name, train
from tailtalk.errors import UserError


class CheckpointError(UserError, RuntimeError):
    """scorer=trained was asked for, but the checkpoint is missing or unreadable."""


# What loading a damaged checkpoint raises: a missing or garbled file (OSError, ValueError, or KeyError
# from a config lacking a key), a value of the wrong type (TypeError), weights of the wrong shape
# (torch's RuntimeError), a torn weights file (SafetensorError).
_UNLOADABLE = (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError)
_META_FIELDS = ("run_id", "prior_weight", "profile", "trained_at")


@dataclass(frozen=True)
class TextScorer:
    """The text signal as one object, after Cornac's models: the encoder that indexes the catalogue and reads
    each turn (retrieval gets it through its own interface, ``ChromaRetriever(catalog, scorer.encoder, ...)``),
    the popularity prior's weight tuned with it, and what it is. ``fit`` trains and saves a checkpoint,
    ``load`` reads one, ``serving`` decides which scorer serves.

    Example::

        >>> from tailtalk.config import Settings
        >>> scorer = TextScorer.serving(Settings(scorer="baseline", popularity_weight=0.3))
        >>> scorer.trained, scorer.prior_weight, scorer.encoder.name
        (False, 0.3, 'all-MiniLM-L6-v2')
    """

    encoder: Embedder
    prior_weight: float
    description: str
    trained: bool
    warning: str | None = None  # shown to the user: why the trained scorer is not serving

    @classmethod
    def serving(cls, settings: Settings, *, quick_start: bool = False) -> TextScorer:
        """The trained scorer, or the baseline with a warning for the user when a checkpoint cannot serve.

        Under ``auto`` no checkpoint at the default place just means none was trained; a
        checkpoint the user named that does not exist is worth a warning. ``quick_start``: the process
        answers one request and exits (see ``make_embedder``).
        """
        checkpoint = settings.checkpoint_path
        if settings.scorer == "baseline" or (
            settings.scorer == "auto" and settings.checkpoint is None and not (checkpoint / SCORER_META).exists()
        ):
            return cls.baseline(settings, quick_start=quick_start)
        try:
            return cls.load(checkpoint, settings, quick_start=quick_start)
        except _UNLOADABLE as exc:
            if settings.scorer == "trained":
                raise CheckpointError(
                    f"the trained scorer at {checkpoint} cannot be loaded ({exc}); "
                    "run `tailtalk train`, or set scorer=baseline"
                ) from exc
            return cls.baseline(
                settings,
                f"the trained scorer at {checkpoint} is unreadable ({exc}); "
                "serving the baseline scorer. Run `tailtalk train` to rebuild it",
                quick_start=quick_start,
            )

    @classmethod
    def baseline(cls, settings: Settings, warning: str | None = None, *, quick_start: bool = False) -> TextScorer:
        """The packaged MiniLM with the configured prior weight."""
        encoder = make_embedder(settings.embedding_model, settings.embedding_batch_size, quick_start=quick_start)
        return cls(
            encoder,
            settings.popularity_weight,
            "baseline scorer (the packaged all-MiniLM-L6-v2; no trained checkpoint)",
            trained=False,
            warning=warning,
        )

    @classmethod
    def load(cls, checkpoint: Path, settings: Settings, *, quick_start: bool = False) -> TextScorer:
        """A trained checkpoint with its own prior weight and metadata (raises what an unreadable one raises)."""
        meta = read_scorer_meta(checkpoint)
        if not isinstance(meta, dict) or any(field not in meta for field in _META_FIELDS):
            raise ValueError(
                f"{checkpoint / SCORER_META} does not describe a trained scorer (it needs {', '.join(_META_FIELDS)})"
            )
        encoder = make_embedder(
            str(checkpoint),
            settings.embedding_batch_size,
            quick_start=quick_start,
            name=scorer_model_name(meta["run_id"]),
        )
        return cls(
            encoder,
            float(meta["prior_weight"]),
            f"trained scorer ({meta['profile']} profile, {meta['trained_at']})",
            trained=True,
        )

    @classmethod
    def fit(
        cls,
        catalog: Catalog,
        settings: Settings,
        config: TrainConfig,
        *,
        augmented: Sequence[Dialogue] = (),
        progress: bool = True,
    ) -> tuple[TextScorer, TrainReport]:
        """Fine-tune on the dataset's train split plus any ``augmented`` (generated) dialogues, with valid for
        early stopping; save the checkpoint at ``settings.checkpoint_path`` atomically, and return the
        trained scorer with the run's report."""
        report = train(
            catalog,
            settings.dataset_dir(),
            settings.checkpoint_path,
            config,
            base_model=settings.embedding_model,
            embedding_cache=settings.home / "embeddings",
            augmented=augmented,
            progress=progress,
        )
        return cls.load(settings.checkpoint_path, settings), report
