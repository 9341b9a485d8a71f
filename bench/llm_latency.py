"""Time to first token and tokens per second: the embedded backend's engines and vLLM on the CPU, side by side.

    .venv/bin/python bench/llm_latency.py [--repetitions 5] [--max-tokens 128] [--vllm-dtypes float32,bfloat16]
                                          [--out bench/results/llm_latency.json]

Variants (same model, same prompts, same process, calls interleaved so that load from
anything else on the machine falls on every variant alike):

* ``transformers``: the engine ``llm=embedded`` ran before llama.cpp: the packaged GGUF
  converted to float32 safetensors, run in process by transformers, streamed;
* ``llamacpp-<n>t``: what ``llm=embedded`` runs now: the packaged GGUF served by llama.cpp
  in process (``tailtalk.embedded_llm``) on ``n`` threads (``serving_threads``; 1 is served),
  called through the app's own ``ChatOpenAI`` backend on 127.0.0.1. The server reuses the
  cached start of a prompt it has read before; ``-uncached`` turns that off per call
  (``cache_prompt: false``), so every call reads its whole prompt as a first one does;
* ``vllm-<dtype>``: the safetensors folder served by vLLM (``ui.vllm_server.VLLMServer``,
  one server per dtype, all started before measuring), through the same backend code.
  ``--vllm-dtypes ""`` leaves vLLM out.

Each prompt is the real ``respond`` prompt (system + user) with a request and five films
with their facts, as the pipeline sends it; greedy decoding (temperature 0), at most
``--max-tokens`` tokens. Generated text is counted with the model's own tokenizer (the
embedded server's) for every variant, so tokens/s compare fairly.

* ``ttft_ms``: call to first non-empty streamed text (includes prefill, and HTTP for servers);
* ``decode_tokens_per_s``: (tokens - 1) / (total - ttft), the streaming rate after it;
* ``total_s`` and ``tokens``: the whole reply.

Numbers are medians (and the 90th percentile of ttft) over prompts x repetitions after one
warm-up call per variant. The machine is shared and noisy: compare within one run only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from langchain_core.messages import BaseMessage

from tailtalk.config import Settings, load_settings
from tailtalk.llm import embedded_backend, embedded_server_for, endpoint_backend, ensure_local_model
from ui.vllm_server import DEFAULT_VENV, VLLMServer
from prompts import load_prompt

# Five requests of the kind a ReDial user makes, each with five real films and the facts the
# pipeline would list for them (title, year, genres, a one-line plot).
SCENARIOS: list[tuple[str, str, list[str]]] = [
    (
        "something scary from the 80s",
        "horror, 1980s",
        [
            "The Shining (1980): Horror, Drama (1980)."
            " A writer caretaking an isolated hotel in winter slides into madness.",
            "The Thing (1982): Horror, Sci-Fi (1982). An Antarctic research team is hunted by a shape-shifting alien.",
            "Poltergeist (1982): Horror, Fantasy (1982). Ghosts in a suburban house take a family's youngest daughter.",
            "A Nightmare on Elm Street (1984): Horror (1984). A killer stalks teenagers in their dreams.",
            "Beetlejuice (1988): Comedy, Fantasy (1988). A dead couple hire a rude ghost to scare off the new owners.",
        ],
    ),
    (
        "a funny movie for family night",
        "comedy, family",
        [
            "Home Alone (1990): Comedy, Family (1990). A boy left behind at Christmas defends the house from burglars.",
            "Paddington (2014): Comedy, Family (2014). A polite bear from Peru finds a home with a London family.",
            "Mrs. Doubtfire (1993): Comedy, Drama (1993). A divorced father disguises himself as a nanny.",
            "The Princess Bride (1987): Adventure, Comedy (1987). A farmhand turned pirate rescues his true love.",
            "Toy Story (1995): Animation, Comedy (1995). A cowboy doll feels replaced by a new space ranger toy.",
        ],
    ),
    (
        "I loved Inception, more mind-bending sci-fi please",
        "sci-fi, like Inception",
        [
            "The Matrix (1999): Action, Sci-Fi (1999). A hacker learns his world is a simulation.",
            "Memento (2000): Mystery, Thriller (2000). A man without short-term memory hunts his wife's killer.",
            "Primer (2004): Drama, Sci-Fi (2004). Two engineers accidentally build a time machine in a garage.",
            "Arrival (2016): Drama, Sci-Fi (2016)."
            " A linguist learns the language of visitors who see time differently.",
            "Eternal Sunshine of the Spotless Mind (2004): Drama, Romance (2004)."
            " A couple erase each other from memory.",
        ],
    ),
    (
        "a romantic comedy, nothing too sad",
        "romance, comedy; avoid: sad",
        [
            "When Harry Met Sally... (1989): Comedy, Romance (1989). Two friends spend years arguing about love.",
            "Notting Hill (1999): Comedy, Romance (1999). A bookshop owner falls for a famous actress.",
            "Crazy Rich Asians (2018): Comedy, Romance (2018). A professor meets her boyfriend's very rich family.",
            "Groundhog Day (1993): Comedy, Fantasy (1993). A weatherman relives the same day until he gets it right.",
            "Amelie (2001): Comedy, Romance (2001). A shy waitress in Paris secretly improves strangers' lives.",
        ],
    ),
    (
        "a gripping thriller that is not too gory",
        "thriller; avoid: gore",
        [
            "Rear Window (1954): Mystery, Thriller (1954)."
            " A photographer in a wheelchair suspects a neighbour of murder.",
            "Zodiac (2007): Crime, Mystery (2007). A cartoonist becomes obsessed with an unsolved serial killer case.",
            "Gone Girl (2014): Drama, Mystery (2014). A husband becomes the suspect when his wife disappears.",
            "The Fugitive (1993): Action, Thriller (1993)."
            " A doctor wrongly convicted of murder escapes to find the killer.",
            "Prisoners (2013): Crime, Drama (2013)."
            " A father takes the law into his own hands when his daughter vanishes.",
        ],
    ),
]


def scenario_messages() -> list[list[BaseMessage]]:
    prompt = load_prompt("respond")
    return [
        prompt.format_messages(
            domain="movie",
            message=message,
            wishes=wishes,
            items="\n".join(f"{i}. {line}" for i, line in enumerate(items, 1)),
        )
        for message, wishes, items in SCENARIOS
    ]


@dataclass
class Samples:
    ttft_ms: list[float] = field(default_factory=list)
    decode_tps: list[float] = field(default_factory=list)
    total_s: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)  # prompt index -> reply (greedy: the same every repetition)

    def summary(self) -> dict[str, float | int]:
        return {
            "ttft_ms_median": round(statistics.median(self.ttft_ms), 1),
            "ttft_ms_p90": round(float(np.percentile(self.ttft_ms, 90)), 1),
            "decode_tokens_per_s_median": round(statistics.median(self.decode_tps), 1),
            "total_s_median": round(statistics.median(self.total_s), 2),
            "tokens_median": int(statistics.median(self.tokens)),
            "calls": len(self.ttft_ms),
        }


StreamText = Callable[[list[BaseMessage]], Iterator[str]]


def chat_model_stream(model) -> StreamText:
    """A LangChain chat model's streamed reply, as text pieces."""
    return lambda messages: (chunk.text for chunk in model.stream(messages))


def transformers_stream(settings: Settings, max_tokens: int) -> StreamText:
    """The former embedded engine: the float32 folder generated by transformers in this process, greedy."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

    folder = ensure_local_model(settings.models_dir)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    roles = {"system": "system", "human": "user", "ai": "assistant"}

    def stream(messages: list[BaseMessage]) -> Iterator[str]:
        chat = [{"role": roles.get(m.type, "user"), "content": m.text} for m in messages]
        inputs = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        worker = threading.Thread(
            target=model.generate,
            kwargs={
                **inputs,
                "streamer": streamer,
                "max_new_tokens": max_tokens,
                "do_sample": False,
                "pad_token_id": tokenizer.eos_token_id,
            },
        )
        worker.start()
        yield from streamer
        worker.join()

    return stream


def measure(stream: StreamText, messages: list[BaseMessage], count_tokens, samples: Samples | None, index: int) -> None:
    """One streamed call; appended to ``samples`` unless it is a warm-up (``samples`` None)."""
    started = time.perf_counter()
    first: float | None = None
    text = ""
    for piece in stream(messages):
        if piece:
            if first is None:
                first = time.perf_counter() - started
            text += piece
    total = time.perf_counter() - started
    if samples is None:
        return
    if first is None:
        raise RuntimeError(f"prompt {index}: the model streamed no text at all")
    tokens = count_tokens(text)
    samples.ttft_ms.append(first * 1000)
    samples.decode_tps.append((tokens - 1) / (total - first) if tokens > 1 and total > first else 0.0)
    samples.total_s.append(total)
    samples.tokens.append(tokens)
    samples.texts[index] = text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _machine() -> str:
    import torch

    model_name = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or platform.machine(),
    )
    return f"{platform.machine()}, {model_name}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def _vllm_package(venv: Path) -> str:
    """What ``ensure_vllm_env`` recorded it installed (vLLM lives in its own virtualenv, not importable here)."""
    try:
        return json.loads((venv / ".tailtalk-vllm.json").read_text(encoding="utf-8"))["package"]
    except (OSError, ValueError, KeyError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument(
        "--vllm-dtypes",
        default="float32,bfloat16",
        help="comma-separated; one vLLM server per dtype (float32 is the launcher's default)",
    )
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="vLLM's virtualenv (created if missing)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/llm_latency.json"))
    args = parser.parse_args()

    settings = load_settings({"llm": "embedded", "llm_temperature": "0", "llm_max_tokens": str(args.max_tokens)})
    streams: dict[str, StreamText] = {"transformers": transformers_stream(settings, args.max_tokens)}
    for threads in (1, 2):
        model = embedded_backend(settings.model_copy(update={"serving_threads": threads})).chat_model
        streams[f"llamacpp-{threads}t"] = chat_model_stream(model)
        # The server reuses a prompt's cached start (the shared system prompt, a repeated prompt): without it,
        # every call reads its whole prompt, as a first call does.
        streams[f"llamacpp-{threads}t-uncached"] = chat_model_stream(model.bind(extra_body={"cache_prompt": False}))
    tokenizer = embedded_server_for(settings.model_copy(update={"serving_threads": 1}))  # the 1-thread variant's

    def count_tokens(text: str) -> int:
        return len(tokenizer.tokenize(text))

    prompts = scenario_messages()
    load_before = os.getloadavg()

    with ExitStack() as stack:
        servers: dict[str, VLLMServer] = {}
        for dtype in [d.strip() for d in args.vllm_dtypes.split(",") if d.strip()]:
            server = VLLMServer.from_settings(settings, port=_free_port(), venv=args.venv, dtype=dtype)
            stack.callback(server.stop)
            servers[f"vllm-{dtype}"] = server.start()
        for name, server in servers.items():  # started together: their cold starts overlap
            server.wait_until_healthy()
            print(f"{name}: healthy at {server.base_url} after {server.startup_seconds:.0f} s (started in parallel)")

        for name, server in servers.items():
            endpoint = settings.model_copy(update={"llm": "openai", "llm_base_url": server.base_url})
            streams[name] = chat_model_stream(endpoint_backend(endpoint).chat_model)
        samples = {name: Samples() for name in streams}
        for stream in streams.values():  # warm-up: lazy initialisation is not a call's cost
            measure(stream, prompts[0], count_tokens, None, 0)
        for repetition in range(args.repetitions):
            for index, messages in enumerate(prompts):
                for name, stream in streams.items():
                    measure(stream, messages, count_tokens, samples[name], index)
            print(f"repetition {repetition + 1}/{args.repetitions} done")
        startup = {name: round(server.startup_seconds or 0.0, 1) for name, server in servers.items()}

    results = {name: s.summary() for name, s in samples.items()}
    base = results["transformers"]
    for name, row in results.items():
        row["ttft_speed-up_vs_transformers"] = round(base["ttft_ms_median"] / row["ttft_ms_median"], 2)
        row["decode_rate_vs_transformers"] = round(
            row["decode_tokens_per_s_median"] / base["decode_tokens_per_s_median"], 2
        )
        row["same_text_as_transformers"] = (
            f"{sum(samples[name].texts[i] == samples['transformers'].texts[i] for i in range(len(prompts)))}"
            f"/{len(prompts)}"
        )
    from importlib.metadata import version

    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": _machine(),
        "load_average_1m": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
        "model": "SmolLM2-135M-Instruct: the packaged Q4_1 GGUF (llama.cpp); "
        "converted to float32 safetensors (transformers, vLLM)",
        "prompts": len(prompts),
        "repetitions": args.repetitions,
        "max_tokens": args.max_tokens,
        "temperature": 0,
        "transformers": version("transformers"),
        "xllamacpp": version("xllamacpp"),
        "vllm": {
            "package": _vllm_package(args.venv),
            "cold_start_s_in_parallel": startup,
            "note": "vLLM on CPU reserves one core for its scheduler: the model runs on 1 thread",
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))
    print()
    print(
        "| variant | TTFT median (ms) | TTFT p90 (ms) | decode tok/s | total (s) | tokens | TTFT speed-up "
        "| decode rate ratio | same text |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, row in results.items():
        print(
            f"| {name} | {row['ttft_ms_median']} | {row['ttft_ms_p90']} | {row['decode_tokens_per_s_median']} | "
            f"{row['total_s_median']} | {row['tokens_median']} | {row['ttft_speed-up_vs_transformers']}x | "
            f"{row['decode_rate_vs_transformers']}x | {row['same_text_as_transformers']} |"
        )


if __name__ == "__main__":
    main()
