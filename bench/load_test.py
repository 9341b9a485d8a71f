"""Load test: simulated users chatting with the app through its API at the same time, on 127.0.0.1 only.

    .venv/bin/python bench/load_test.py [--users 50] [--turns 10] [--llm none|embedded|auto] [--deadline 600]
                                        [--home DIR] [--set KEY=VALUE ...] [--processes N | --url URL ...]
                                        [--client http|gradio] [--out bench/results/load_test.json]

It serves the app in this process on a free loopback port (``ui.app.launch``), or in ``--processes N``
app processes of their own (``tailtalk chat --port P``, each on a free loopback port: the multi-process
deployment of docs/deployment.md); ``--url`` (repeatable) targets apps already served instead. Each user
gets its own session on one app (its own conversation: ``HttpSession``, Gradio's HTTP API with the user's
own session hash, or with ``--client gradio`` a ``gradio_client.Client``), users spread round-robin over
the apps and kept on theirs, as a load balancer with sticky sessions does; all start at once.
A user sets its own long-tail knob (``/set_diversity``), then takes its turns,
alternating ``/chat`` (which returns the whole chat history) and ``/recommend`` (JSON items); after each
turn with picks it dislikes the first pick and, every other turn, likes the last (``/feedback``). Every
message carries the user's own tag word (``qz`` and three letters), so another user's words showing up
anywhere (history, replies, cards) are caught.

Checked for every user (any failure is a leak):

* ``/chat`` returns exactly this user's messages and the replies it received, in order, and nothing else;
* no reply, history or card text holds another user's tag;
* the conversation id stays the same from call to call, and no two users share one;
* a disliked item never comes back, and no pick is shown twice (the pipeline excludes what was shown,
  mentioned or disliked: ``TurnPipeline.constraints``);
* ``/feedback`` echoes exactly this user's likes and dislikes;
* when replies are deterministic (templates, no language model), the whole transcript equals the same
  user's conversation replayed alone on the same pipeline in process: items, replies, history and echoes.

Errors are exceptions and timeouts (a call that outlives ``--call-timeout``, or the global ``--deadline``
after which the run stops and reports what it has). Latency is measured by each client, from sending a
turn to its complete answer, queue wait included. Client and server share this process and its cores
unless ``--url`` is given. The exit status is 1 when there was any error or leak.

Measured here (2 cores shared by the clients and the apps; 2026-12-02; the default home, llm none): 50 users
x 10 turns with ``--processes 2``, 500 turns and 800 feedback and knob calls, 13.46 turns/s, turn latency
p50 3.3 s, p95 3.9 s, 0 errors, 0 leaks, all 50 conversations equal to the same run alone; with
``--client gradio``, 5.05 turns/s and p95 10.2 s (docs/deployment.md). The whole run, with start-up and
the replay alone, takes about 1.5 minutes.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import html
import json
import os
import platform
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import numpy as np

from tailtalk import privacy

privacy.apply_offline_defaults()  # before gradio_client is imported: it reads them at import time

from agent.state import ConversationState  # noqa: E402  (imported after the privacy defaults on purpose)

if TYPE_CHECKING:
    from ui.pipeline import TurnPipeline
    from tailtalk.config import Settings

REPO = Path(__file__).resolve().parents[1]
APP_LOGS = REPO / "bench" / "results" / "app-logs"  # --processes: each app process's output (not committed)

# What each user wants: a first request and a later refinement. Worded to name no catalogue title
# (a named title would count as liked and blur the feedback check) and to differ from user to user.
TASTES: list[tuple[str, str]] = [
    ("a scary horror film with ghosts", "less gory and more creepy"),
    ("a light romantic comedy from the 90s", "something about a wedding"),
    ("an animated film for kids", "with talking animals"),
    ("a science fiction film set in space", "with a lonely robot"),
    ("a crime film about a clever robbery", "from the 70s"),
    ("a war drama based on a true story", "about veterans returning from war"),
    ("a western with gunfights on the frontier", "with a lone hero"),
    ("a musical with great songs and dancing", "about a couple in love"),
    ("a documentary about nature", "about the ocean"),
    ("a superhero action film", "with a funny sidekick"),
]
FOLLOW_UPS = ["something else please", None, "more along those lines", "any other ideas?"]  # None: the refinement
DIVERSITY = [0.0, 0.25, 0.5, 0.75, 1.0]
TAG = re.compile(r"\bqz[a-z]{3}\b")
CARD_ID = re.compile(r'data-item-id="([^"]*)"')
TURN_ENDPOINTS = ("chat", "recommend")


def tag_of(user: int) -> str:
    """The user's own word: ``qz`` and three letters (17,576 users before two share one)."""
    letters = "".join(chr(ord("a") + user // 26**p % 26) for p in (2, 1, 0))
    return f"qz{letters}"


def message_of(user: int, turn: int) -> str:
    request, refinement = TASTES[user % len(TASTES)]
    text = request if turn == 0 else FOLLOW_UPS[(turn - 1) % len(FOLLOW_UPS)] or refinement
    return f"{text}, {tag_of(user)}"


def _text(content: Any) -> str:
    """A chat message's text: Gradio sends a list of parts ({"type": "text", "text": ...}), programs a string."""
    if isinstance(content, str):
        return content
    return "".join(part["text"] for part in content if part.get("type") == "text")


def _normalised(history: Sequence[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    return tuple((m["role"], _text(m["content"])) for m in history)


class Session(Protocol):
    """One conversation, through the app's endpoints (or the same steps in process, for the reference)."""

    def chat(self, message: str) -> tuple[list[dict[str, Any]], str]: ...
    def recommend(self, message: str) -> dict[str, Any]: ...
    def feedback(self, item_id: str, action: str) -> dict[str, Any]: ...
    def set_diversity(self, value: float) -> None: ...


class CallTimer:
    """How long one call may take: the call timeout, cut short by the run's deadline."""

    def __init__(self, deadline: float, call_timeout: float):
        self.deadline = deadline
        self.call_timeout = call_timeout

    def allowance(self) -> tuple[float, str]:
        """Seconds the next call may take, and what limits it (for the error message)."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the run's deadline passed before this call")
        return min(self.call_timeout, left), "the run's deadline" if left < self.call_timeout else "the call timeout"


class HttpSession:
    """Gradio's HTTP API, as ``curl`` would use it: ``POST /gradio_api/call/<endpoint>`` with the user's own
    session hash (its own conversation state on the server), then the call's event stream until ``complete``.

    The default client: one keep-alive connection per user and no threads of its own. ``gradio_client``'s
    ``Client`` (``--client gradio``) runs a heartbeat stream, a message stream and a thread pool per user,
    and spent more CPU per turn than the app it measured (212 ms against 174 ms, measured 2026-12-02), on
    the same two cores.
    """

    def __init__(self, url: str, *, deadline: float, call_timeout: float):
        self.timer = CallTimer(deadline, call_timeout)
        self.http = httpx.Client(base_url=url.rstrip("/") + "/gradio_api", timeout=call_timeout)
        self.session_hash = uuid.uuid4().hex
        self.http.get("/info").raise_for_status()  # the app answers, as Client's config fetch checks

    def _call(self, *args: Any, api_name: str) -> Any:
        wait, cause = self.timer.allowance()
        ends = time.monotonic() + wait
        name = api_name.lstrip("/")
        try:
            sent = self.http.post(f"/call/{name}", json={"data": list(args), "session_hash": self.session_hash})
            sent.raise_for_status()
            event, data = "", ""
            with self.http.stream("GET", f"/call/{name}/{sent.json()['event_id']}", timeout=wait) as stream:
                for line in stream.iter_lines():
                    if time.monotonic() > ends:
                        break
                    if line.startswith("event:"):
                        event = line.removeprefix("event:").strip()
                    elif line.startswith("data:"):
                        data = line.removeprefix("data:").strip()
                        if event in ("complete", "error"):
                            break
        except httpx.TimeoutException:
            event = "timeout"
        if event == "error":
            raise RuntimeError(f"{api_name} failed: {data}")
        if event != "complete":
            raise TimeoutError(f"{api_name} gave no answer within {wait:.1f} s ({cause})")
        return json.loads(data)

    def chat(self, message: str) -> tuple[list[dict[str, Any]], str]:
        history, cards, *_ = self._call(message, api_name="/chat")  # the outputs after them are the states
        return history, cards

    def recommend(self, message: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(message, api_name="/recommend")[0]
        return result

    def feedback(self, item_id: str, action: str) -> dict[str, Any]:
        echo: dict[str, Any] = self._call(item_id, action, api_name="/feedback")[0]
        return echo

    def set_diversity(self, value: float) -> None:
        self._call(value, api_name="/set_diversity")

    def close(self) -> None:
        self.http.close()


class ClientSession:
    """A ``gradio_client.Client``: its own session on the server, so its own conversation."""

    def __init__(self, url: str, *, deadline: float, call_timeout: float):
        from gradio_client import Client

        # One call at a time per user; no downloads; analytics off (loopback only).
        self.client = Client(url, verbose=False, analytics_enabled=False, max_workers=2, download_files=False)
        self.timer = CallTimer(deadline, call_timeout)

    def _call(self, *args: Any, api_name: str) -> Any:
        wait, cause = self.timer.allowance()
        job = self.client.submit(*args, api_name=api_name)
        try:
            return job.result(timeout=wait)
        except TimeoutError:
            job.cancel()  # off the server's queue, if it is still waiting there
            raise TimeoutError(f"{api_name} gave no answer within {wait:.1f} s ({cause})") from None

    def chat(self, message: str) -> tuple[list[dict[str, Any]], str]:
        history, cards = self._call(message, api_name="/chat")
        return history, cards

    def recommend(self, message: str) -> dict[str, Any]:
        return self._call(message, api_name="/recommend")

    def feedback(self, item_id: str, action: str) -> dict[str, Any]:
        return self._call(item_id, action, api_name="/feedback")

    def set_diversity(self, value: float) -> None:
        self._call(value, api_name="/set_diversity")

    def close(self) -> None:
        self.client.close()


class PipelineSession:
    """The app's endpoints replayed on the pipeline in process: what a conversation gives when it runs alone.

    Mirrors ``ui.app.build_app``: ``/chat`` streams the turn and keeps the cards when a turn has no picks,
    ``/recommend`` is ``TurnPipeline.handle``, ``/feedback`` edits the state and echoes it.
    """

    def __init__(self, pipeline: TurnPipeline, state: ConversationState | None = None):
        self.pipeline = pipeline
        self.state = state or ConversationState()
        self.picks: list = []  # the cards on screen, as the app's ChatView keeps them
        self.history: list[dict[str, Any]] = []  # the transcript, as the app's ChatView keeps it

    def chat(self, message: str) -> tuple[list[dict[str, Any]], str]:
        from ui.app import render_cards

        result = self.pipeline.handle(self.state, message)  # the last of what /chat streams
        self.picks = result.picks or self.picks
        turn = [{"role": "user", "content": message}, {"role": "assistant", "content": result.reply}]
        self.history = [*self.history, *turn]
        return self.history, render_cards(self.picks, self.state)

    def recommend(self, message: str) -> dict[str, Any]:
        return self.pipeline.handle(self.state, message).to_json(self.state.conversation_id)

    def feedback(self, item_id: str, action: str) -> dict[str, Any]:
        _apply(self.state, action, item_id)
        return {
            "conversation_id": self.state.conversation_id,
            "liked": list(self.state.liked),
            "disliked": sorted(self.state.disliked),
        }

    def set_diversity(self, value: float) -> None:
        self.state.diversity = value


@dataclass(frozen=True)
class Step:
    """One call as the user saw it. ``items`` are a turn's new picks; None when the turn kept the cards."""

    endpoint: str  # chat, recommend, feedback, set_diversity
    sent: str  # the message; "like 123" for feedback; the knob's value
    reply: str = ""
    items: tuple[str, ...] | None = None
    history: tuple[tuple[str, str], ...] = ()
    conversation_id: str | None = None
    liked: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()
    cards: str = ""  # /chat: the cards' text
    started: float = 0.0  # time.perf_counter() when the call was sent
    seconds: float = 0.0

    def seen(self) -> Step:
        """What must not depend on other users: everything but the conversation's id and the timing."""
        return replace(self, conversation_id=None, started=0.0, seconds=0.0)


@dataclass
class Transcript:
    user: int
    tag: str
    steps: list[Step] = field(default_factory=list)
    error: str | None = None


class SimulatedUser:
    """One user's scripted conversation. Deterministic: the same answers lead to the same next calls."""

    def __init__(self, user: int, turns: int):
        self.user = user
        self.turns = turns
        self.transcript = Transcript(user, tag_of(user))
        self.history: list[dict[str, Any]] = []  # as /chat returned it
        self.cards: tuple[str, ...] = ()  # the ids on the cards /chat shows

    def run(self, session: Session, on_turn: Callable[[], None] = lambda: None) -> Transcript:
        where = "/set_diversity"
        try:
            diversity = DIVERSITY[self.user % len(DIVERSITY)]
            self._timed(lambda: self._set_diversity(session, diversity))
            for turn in range(self.turns):
                message = message_of(self.user, turn)
                endpoint = TURN_ENDPOINTS[(self.user + turn) % 2]
                where = f"turn {turn + 1} /{endpoint}"
                call = self._chat if endpoint == "chat" else self._recommend
                picks = self._timed(lambda call=call, message=message: call(session, message)).items or ()
                on_turn()
                actions = [("dislike", picks[0])] if picks else []
                if turn % 2 and len(picks) > 1:
                    actions.append(("like", picks[-1]))
                for n, (action, item_id) in enumerate(actions, 1):
                    where = f"turn {turn + 1} /feedback {n}"
                    self._timed(lambda item_id=item_id, action=action: self._feedback(session, item_id, action))
        except Exception as exc:  # noqa: BLE001  (every failure is counted and reported, with its message)
            self.transcript.error = f"user {self.user}, {where}: {type(exc).__name__}: {exc}"
        return self.transcript

    def _timed(self, call: Callable[[], Step]) -> Step:
        started = time.perf_counter()
        step = call()
        step = replace(step, started=started, seconds=time.perf_counter() - started)
        self.transcript.steps.append(step)
        return step

    @staticmethod
    def _set_diversity(session: Session, value: float) -> Step:
        session.set_diversity(value)
        return Step("set_diversity", str(value))

    @staticmethod
    def _recommend(session: Session, message: str) -> Step:
        turn = session.recommend(message)
        return Step(
            "recommend",
            message,
            reply=turn["reply"],
            items=tuple(str(i["id"]) for i in turn["items"]),
            conversation_id=turn["conversation_id"],
        )

    @staticmethod
    def _feedback(session: Session, item_id: str, action: str) -> Step:
        echo = session.feedback(item_id, action)
        return Step(
            "feedback",
            f"{action} {item_id}",
            conversation_id=echo["conversation_id"],
            liked=tuple(echo["liked"]),
            disliked=tuple(echo["disliked"]),
        )

    def _chat(self, session: Session, message: str) -> Step:
        self.history, cards = session.chat(message)
        shown = _card_ids(cards)
        disliked = _feedback_state(self.transcript.steps).disliked
        # A turn without picks leaves the cards as they were (less what was disliked since): no new picks.
        kept = bool(self.cards) and shown == tuple(i for i in self.cards if i not in disliked)
        self.cards = shown
        history = _normalised(self.history)
        return Step(
            "chat",
            message,
            reply=history[-1][1] if history else "",
            items=None if kept else shown,
            history=history,
            cards=html.unescape(cards),
        )


def _card_ids(cards: str) -> tuple[str, ...]:
    return tuple(html.unescape(i) for i in CARD_ID.findall(cards))


def _feedback_state(steps: Sequence[Step]) -> ConversationState:
    """The likes and dislikes these steps sent, applied as the app applies them."""
    state = ConversationState()
    for step in steps:
        if step.endpoint == "feedback":
            _apply(state, *step.sent.split(" ", 1))
    return state


def _apply(state: ConversationState, action: str, item_id: str) -> None:
    (state.like if action == "like" else state.dislike)(item_id)


def check_transcript(transcript: Transcript) -> list[str]:
    """The leaks in one user's transcript: anything that is not this conversation's own."""
    leaks: list[str] = []
    chat: tuple[tuple[str, str], ...] = ()
    shown: set[str] = set()
    ids = {s.conversation_id for s in transcript.steps if s.conversation_id is not None}
    if len(ids) > 1:
        leaks.append(f"user {transcript.user}: the conversation id changed between calls: {sorted(ids)}")
    for n, step in enumerate(transcript.steps):
        where = f"user {transcript.user}, step {n + 1} /{step.endpoint}"
        text = " ".join([step.reply, step.cards, *(t for _, t in step.history)])
        if foreign := sorted(set(TAG.findall(text)) - {transcript.tag}):
            leaks.append(f"{where}: another user's words ({', '.join(foreign)}) in what this user was shown")
        if step.endpoint == "chat":
            expected = (*chat, ("user", step.sent))
            if not step.history or step.history[:-1] != expected or step.history[-1][0] != "assistant":
                asked = [text for role, text in step.history if role == "user"]
                leaks.append(
                    f"{where}: the history is not this conversation's: expected its {len(expected)} "
                    f"messages and a reply, got {len(step.history)} messages, the user's being {asked}"
                )
            chat = step.history
        if step.endpoint == "feedback":
            state = _feedback_state(transcript.steps[: n + 1])
            if (step.liked, step.disliked) != (tuple(state.liked), tuple(sorted(state.disliked))):
                leaks.append(
                    f"{where}: feedback echoed liked {list(step.liked)}, disliked {list(step.disliked)}; "
                    f"this user sent liked {state.liked}, disliked {sorted(state.disliked)}"
                )
        if step.items:
            disliked = _feedback_state(transcript.steps[:n]).disliked
            if back := sorted(set(step.items) & disliked):
                leaks.append(f"{where}: disliked item(s) {back} came back")
            if again := sorted(set(step.items) & shown - disliked):
                leaks.append(f"{where}: item(s) {again} were shown earlier in this conversation")
            shown |= set(step.items)
    return leaks


def check_all(transcripts: Sequence[Transcript]) -> list[str]:
    """Every user's leaks, and conversation ids shared between users."""
    leaks = [leak for t in transcripts for leak in check_transcript(t)]
    owners: dict[str, list[int]] = {}
    for t in transcripts:
        for cid in {s.conversation_id for s in t.steps if s.conversation_id is not None}:
            owners.setdefault(cid, []).append(t.user)
    leaks += [f"users {users} share the conversation id {cid}" for cid, users in owners.items() if len(users) > 1]
    return leaks


def compare_with_alone(served: Transcript, alone: Transcript) -> list[str]:
    """The first step where a served conversation differs from the same user run alone (later ones follow)."""
    for n, (got, want) in enumerate(zip(served.steps, alone.steps)):
        if got.seen() != want.seen():
            fields = [k for k, v in asdict(got.seen()).items() if v != asdict(want.seen())[k]]
            return [
                f"user {served.user}, step {n + 1} /{got.endpoint}: differs from the same conversation run "
                f"alone in {', '.join(fields)} (served items {got.items}, alone {want.items}"
                f"{_first_difference(got.reply, want.reply)})"
            ]
    return []


def _first_difference(served: str, alone: str) -> str:
    """The first line where two replies differ, both ways, so a report says what changed, not only that it did."""
    if served == alone:
        return ""
    lines = zip_longest(served.split("\n"), alone.split("\n"), fillvalue="")
    got, want = next(((g, w) for g, w in lines if g != w), (served, alone))  # else they differ in line endings
    return f"; reply line served {got[:160]!r}, alone {want[:160]!r}"


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50, p95, max and mean in milliseconds (all zero with no samples)."""
    ms = np.asarray(samples, dtype=float) * 1000
    if not len(ms):
        return {"n": 0, "p50_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0, "mean_ms": 0.0}
    return {
        "n": int(len(ms)),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "max_ms": round(float(ms.max()), 1),
        "mean_ms": round(float(ms.mean()), 1),
    }


@dataclass
class LoadReport:
    users: int
    turns: int
    completed_turns: int
    errors: list[str]
    leaks: list[str]
    # Per call kind: turn (chat and recommend), chat, recommend, feedback; and turns split into each user's
    # first_turn and later_turns.
    latency: dict[str, dict[str, float]]
    wall_s: float
    connect_s: float
    peak_in_flight: int
    reference: str  # whether each transcript was compared with its conversation run alone
    transcripts: list[Transcript] = field(repr=False, default_factory=list)

    @property
    def planned_turns(self) -> int:
        return self.users * self.turns

    @property
    def turns_per_s(self) -> float:
        return round(self.completed_turns / self.wall_s, 2) if self.wall_s else 0.0

    def to_json(self) -> dict[str, Any]:
        report = {k: v for k, v in asdict(self).items() if k != "transcripts"}
        return {
            **report,
            "planned_turns": self.planned_turns,
            "turns_per_s": self.turns_per_s,
            "error_count": len(self.errors),
            "leak_count": len(self.leaks),
        }

    def summary(self) -> str:
        t = self.latency["turn"]
        return (
            f"{self.users} users x {self.turns} turns: {self.completed_turns}/{self.planned_turns} turns in "
            f"{self.wall_s:.1f} s ({self.turns_per_s} turns/s, peak {self.peak_in_flight} in flight); "
            f"turn latency p50 {t['p50_ms']:.0f} ms, p95 {t['p95_ms']:.0f} ms, max {t['max_ms']:.0f} ms "
            f"(first turns p95 {self.latency['first_turn']['p95_ms']:.0f} ms, later "
            f"{self.latency['later_turns']['p95_ms']:.0f} ms); "
            f"{len(self.errors)} errors, {len(self.leaks)} leaks; reference: {self.reference}"
        )


def peak_in_flight(transcripts: Sequence[Transcript]) -> int:
    """The most calls waiting on an answer at one moment: evidence that the users really overlapped."""
    edges = sorted(
        (t, delta) for tr in transcripts for s in tr.steps for t, delta in ((s.started, 1), (s.started + s.seconds, -1))
    )
    now = peak = 0
    for _, delta in edges:  # at equal times an end (-1) sorts before a start: touching calls do not overlap
        now += delta
        peak = max(peak, now)
    return peak


# How a simulated user calls the app (``--client``): Gradio's HTTP API directly, or gradio_client.
CLIENTS: dict[str, type[HttpSession] | type[ClientSession]] = {"http": HttpSession, "gradio": ClientSession}


def run_load(
    urls: str | Sequence[str],
    users: int,
    turns: int,
    *,
    deadline_s: float = 600.0,
    call_timeout_s: float = 120.0,
    reference: TurnPipeline | None = None,
    progress: bool = False,
    client: str = "http",
) -> LoadReport:
    """Run ``users`` simulated users at once against the app at ``urls``, check them, and time them.

    With several URLs (one app process each), user ``u`` talks to ``urls[u % len(urls)]`` only: a
    conversation's state lives in the process that served its first turn.

    ``reference``: the pipeline the app serves, to replay each conversation alone and compare (only
    meaningful when its replies are deterministic, i.e. templates).

    ``client``: how each user calls the app, one of ``CLIENTS``.
    """
    from tqdm import tqdm

    connect = CLIENTS[client]

    urls = [urls] if isinstance(urls, str) else list(urls)
    started = time.monotonic()
    deadline = started + deadline_s
    errors: list[str] = []
    sessions: dict[int, HttpSession | ClientSession] = {}

    # Clients fetch the app's config when made: made up front, a few at a time, so the users start together.
    with concurrent.futures.ThreadPoolExecutor(min(users, 8)) as pool:
        pending = {
            pool.submit(connect, urls[u % len(urls)], deadline=deadline, call_timeout=call_timeout_s): u
            for u in range(users)
        }
        for future in concurrent.futures.as_completed(pending):
            user = pending[future]
            if (exc := future.exception()) is not None:
                errors.append(f"user {user}, connecting to {urls[user % len(urls)]}: {type(exc).__name__}: {exc}")
            else:
                sessions[user] = future.result()
    connect_s = time.monotonic() - started

    bar = tqdm(total=users * turns, unit="turn", desc="load", file=sys.stderr, disable=not progress)
    load_started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max(len(sessions), 1)) as pool:
        futures = [pool.submit(SimulatedUser(u, turns).run, s, bar.update) for u, s in sessions.items()]
        transcripts = sorted((f.result() for f in futures), key=lambda t: t.user)
        wall_s = time.monotonic() - load_started
        list(pool.map(lambda session: session.close(), sessions.values()))  # a Client waits on its heartbeat
    bar.close()

    errors += [t.error for t in transcripts if t.error]
    leaks = check_all(transcripts)
    compared = equal = 0
    if reference is not None:
        for t in transcripts:
            if time.monotonic() > deadline:
                errors.append(
                    f"the deadline ({deadline_s:.0f} s) passed before users {t.user}.. were replayed "
                    "alone for the reference check"
                )
                break
            differences = compare_with_alone(t, SimulatedUser(t.user, turns).run(PipelineSession(reference)))
            leaks += differences
            compared += 1
            equal += not differences
    unchecked = f"; {len(transcripts) - compared} not compared (deadline)" if compared < len(transcripts) else ""
    steps = [s for t in transcripts for s in t.steps]
    turns_of = [[s for s in t.steps if s.endpoint in TURN_ENDPOINTS] for t in transcripts]
    latency = {"turn": percentiles([s.seconds for turns in turns_of for s in turns])}
    latency |= {e: percentiles([s.seconds for s in steps if s.endpoint == e]) for e in (*TURN_ENDPOINTS, "feedback")}
    # The users' first turns wait for each other and for each app's warm-up; the later ones show the steady state.
    latency["first_turn"] = percentiles([turns[0].seconds for turns in turns_of if turns])
    latency["later_turns"] = percentiles([s.seconds for turns in turns_of for s in turns[1:]])
    return LoadReport(
        users=users,
        turns=turns,
        completed_turns=latency["turn"]["n"],
        errors=errors,
        leaks=leaks,
        latency=latency,
        wall_s=round(wall_s, 2),
        connect_s=round(connect_s, 2),
        peak_in_flight=peak_in_flight(transcripts),
        reference=f"{equal} of {compared} conversations equal to the same run alone{unchecked}"
        if reference is not None
        else "not compared",
        transcripts=transcripts,
    )


def _commit() -> str:
    """HEAD, marked "+changes" when the working tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"unknown ({exc})"
    return head.stdout.strip() + (" +changes" if dirty.stdout.strip() else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument(
        "--llm",
        choices=["none", "embedded", "auto", "openai"],
        default="none",
        help="the language model the served app uses (default none: grounded templates)",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=600.0,
        help="seconds after which the run stops and reports what it has (default 600)",
    )
    parser.add_argument("--call-timeout", type=float, default=120.0, help="seconds one call may take (default 120)")
    parser.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default="http",
        help="how each user calls the app: Gradio's HTTP API (default) or gradio_client, whose threads per "
        "user cost more CPU than the app on a machine that runs both",
    )
    parser.add_argument("--home", help="tailtalk home with the prepared dataset and its index")
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other setting, as `tailtalk --set`",
    )
    served = parser.add_mutually_exclusive_group()
    served.add_argument(
        "--url",
        action="append",
        default=[],
        help="load an app already served at this URL (repeatable: users spread over them; no reference check)",
    )
    served.add_argument(
        "--processes",
        type=int,
        default=0,
        help="serve the app in this many processes of its own (default 0: in this process)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "load_test.json")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    from tailtalk.catalog import DataFormatError
    from tailtalk.config import ConfigError, load_settings, parse_assignments
    from tailtalk.llm import LLMError
    from retrieval.index import IndexError_

    try:
        overrides = {
            **parse_assignments(args.assignments),
            "llm": args.llm,
            "ui_host": "127.0.0.1",
            "ui_port": str(privacy.free_loopback_port()),
            **({"home": args.home} if args.home else {}),
        }
        settings = load_settings(overrides)
        if not args.url and not settings.catalog_path.is_file():
            print(
                f"error: no prepared catalogue at {settings.catalog_path}: run `tailtalk data prepare "
                f"{settings.dataset}` (it reads the original files from TAILTALK_DATA_MIRROR, or ../shared/data) "
                "and `tailtalk index`, or pass --home to a home that has both (the tests build one in "
                ".cache/test-home)",
                file=sys.stderr,
            )
            return 2
        if args.processes < 0:
            raise ConfigError(f"--processes must be 0 or more, not {args.processes}")
        if args.url:
            urls, pipeline, demo = args.url, None, None
        elif args.processes:
            urls, pipeline, demo = [], None, None
        else:
            url, pipeline, demo = _serve(settings)
            urls = [url]
    except (ConfigError, DataFormatError, LLMError, IndexError_) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    apps: list[AppProcess] = []
    try:
        from explain.respond import TemplateResponder

        if args.processes:
            apps = start_apps(args.processes, overrides, deadline_s=args.deadline)
            urls = [app.url for app in apps]
            # The reference (each conversation replayed alone) is built here, after the apps have started,
            # so that building it does not slow their start; it is only compared after the load.
            if settings.llm == "none":
                from ui.assemble import build_serving_pipeline

                pipeline = build_serving_pipeline(settings)
        deterministic = pipeline is not None and isinstance(pipeline.responder, TemplateResponder)
        report = run_load(
            urls,
            args.users,
            args.turns,
            deadline_s=args.deadline,
            call_timeout_s=args.call_timeout,
            reference=pipeline if deterministic else None,
            progress=not args.no_progress,
            client=args.client,
        )
    except AppStartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if demo is not None:
            demo.close()
        for app in apps:
            app.stop()
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "commit": _commit(),
        "command": " ".join(["bench/load_test.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "llm": pipeline.llm_name if pipeline is not None else f"as served ({args.llm} asked)",
        "served": pipeline.describe() if pipeline is not None else urls,
        "app_processes": args.processes or (len(args.url) if args.url else "in this process"),
        "client": args.client,
        "deadline_s": args.deadline,
        **report.to_json(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for line in report.errors[:10] + report.leaks[:10]:
        print(line, file=sys.stderr)
    if report.errors:
        print(
            f"{len(report.errors)} errors (all in {args.out}). Timeouts: give the run more time (--deadline, "
            "--call-timeout) or fewer --users; connection errors with --url: is the app served there "
            "(`tailtalk chat`)?",
            file=sys.stderr,
        )
    print(f"{report.summary()}\nwritten to {args.out}")
    return 1 if report.errors or report.leaks else 0


class AppStartError(RuntimeError):
    """An app process did not come up: its log says why."""


@dataclass
class AppProcess:
    """One ``tailtalk chat`` process on a loopback port, its output in a log file."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_apps(count: int, overrides: dict[str, str], *, deadline_s: float, logs: Path = APP_LOGS) -> list[AppProcess]:
    """Start ``count`` app processes with these settings, each on a free loopback port, and wait until each
    answers. Their output goes to ``logs/app-<n>.log`` (overwritten by the next run)."""
    tailtalk = Path(sys.executable).with_name("tailtalk")
    settings_args = [arg for key, value in overrides.items() if key != "ui_port" for arg in ("--set", f"{key}={value}")]
    apps = []
    logs.mkdir(parents=True, exist_ok=True)
    for n in range(1, count + 1):
        port = privacy.free_loopback_port()
        log = logs / f"app-{n}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(tailtalk), *settings_args, "chat", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT
            )
        apps.append(AppProcess(f"http://127.0.0.1:{port}/", process, log))
    give_up = time.monotonic() + deadline_s
    try:
        for app in apps:
            _wait_until_answering(app, give_up, deadline_s)
    except AppStartError:
        for app in apps:
            app.stop()
        raise
    return apps


def _wait_until_answering(app: AppProcess, give_up: float, deadline_s: float) -> None:
    import urllib.error
    import urllib.request

    while True:
        if app.process.poll() is not None:
            raise AppStartError(f"the app process for {app.url} exited ({app.process.returncode}): see {app.log}")
        try:
            with urllib.request.urlopen(app.url + "config", timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > give_up:
                raise AppStartError(
                    f"the app at {app.url} did not answer within {deadline_s:.0f} s: see {app.log}"
                ) from None
            time.sleep(1)


def _serve(settings: Settings) -> tuple[str, TurnPipeline, Any]:
    from ui.assemble import build_serving_pipeline
    from ui.app import launch

    pipeline = build_serving_pipeline(settings)
    demo = launch(settings, block=False, pipeline=pipeline)
    return f"http://127.0.0.1:{settings.ui_port}/", pipeline, demo


if __name__ == "__main__":
    sys.exit(main())
