"""Conversations through the API (``gradio_client``): like/dislike feedback, cards that stay when a turn has
no picks, and isolation under concurrency.

Isolation is proved by replaying the same scripted conversations one after another and
checking that running them at the same time changes nothing. A leak of any kind (shown
items, feedback, history or the long-tail knob of another session) would change a
conversation's second turn, because that turn excludes what was shown and leans on
what was liked.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass

import pytest

pytestmark = pytest.mark.integration

# Two copies of each script run at once: identical requests are the strictest leak detector,
# since a shared state would make the second copy exclude what the first was shown.
SCRIPTS = ["a light romantic comedy from the 90s", "a scary horror film with ghosts", "an animated film for kids"]


@dataclass(frozen=True)
class Transcript:
    conversation_ids: tuple[str, ...]  # as reported by each turn and the feedback
    first: tuple[str, ...]
    liked: tuple[str, ...]
    disliked: tuple[str, ...]
    second: tuple[str, ...]
    second_reply: str

    def picks(self) -> tuple[tuple[str, ...], ...]:
        """Everything the conversation saw, without its id (which differs run to run by design)."""
        return self.first, self.liked, self.disliked, self.second, (self.second_reply,)


def converse(app_url: str, request: str) -> Transcript:
    """Ask, dislike the first pick, like the second, then ask for something else."""
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    one = client.predict(request, api_name="/recommend")
    first = [i["id"] for i in one["items"]]
    client.predict(first[0], "dislike", api_name="/feedback")
    feedback = client.predict(first[1], "like", api_name="/feedback")
    two = client.predict("something else", api_name="/recommend")
    return Transcript(
        (one["conversation_id"], feedback["conversation_id"], two["conversation_id"]),
        tuple(first),
        tuple(feedback["liked"]),
        tuple(feedback["disliked"]),
        tuple(i["id"] for i in two["items"]),
        two["reply"],
    )


def test_concurrent_conversations_see_only_their_own_items_and_feedback(app_url):
    sequential = [converse(app_url, request) for request in SCRIPTS]
    with concurrent.futures.ThreadPoolExecutor(2 * len(SCRIPTS)) as pool:
        concurrent_runs = list(pool.map(lambda request: converse(app_url, request), SCRIPTS * 2))

    every_id = [t.conversation_ids for t in sequential + concurrent_runs]
    assert all(len(set(ids)) == 1 for ids in every_id)  # one conversation per client, from turn to turn
    assert len({ids[0] for ids in every_id}) == len(every_id)  # and no two clients share one
    for n, run in enumerate(concurrent_runs):
        alone = sequential[n % len(SCRIPTS)]
        assert run.picks() == alone.picks(), f"{SCRIPTS[n % len(SCRIPTS)]!r} changed when run beside others"
    for t in sequential:
        assert t.liked == (t.first[1],) and t.disliked == (t.first[0],)  # only its own feedback
        assert len(t.second) >= 3 and not set(t.first) & set(t.second)
    assert len({t.first for t in sequential}) == len(SCRIPTS)  # the scripts really ask different things


def test_a_like_moves_the_next_turn(app_url):
    from gradio_client import Client

    def next_turn(like: bool) -> list[str]:
        client = Client(app_url, verbose=False)
        first = client.predict("a light romantic comedy from the 90s", api_name="/recommend")["items"]
        if like:
            client.predict(first[-1]["id"], "like", api_name="/feedback")
        return [i["id"] for i in client.predict("something else", api_name="/recommend")["items"]]

    assert next_turn(like=True) != next_turn(like=False)


def test_feedback_rejects_what_it_cannot_apply(app_url, redial_pipeline):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False)
    known = next(iter(redial_pipeline.catalog)).id
    with pytest.raises(AppError, match="feedback must be 'like' or 'dislike', not 'love'"):
        client.predict(known, "love", api_name="/feedback")
    with pytest.raises(AppError, match="no item with id 'no-such-film' in the catalogue"):
        client.predict("no-such-film", "like", api_name="/feedback")
    assert client.predict(known, " Dislike ", api_name="/feedback")["disliked"] == [known]


def test_a_turn_without_picks_keeps_the_cards_on_screen(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    history, cards = client.predict("a 90s comedy", api_name="/chat")
    history, kept = client.predict("a horror film from 1850", api_name="/chat")
    assert "found nothing" in str(history[-1]["content"])
    assert kept == cards and cards.count('class="tt-card"') == 5  # still the list to refer to and rate


def test_messages_sent_before_the_reply_are_queued_and_answered_one_after_the_other(app_url):
    """Two messages at once on one session (what Enter twice while a reply streams sends): both are
    answered, one after the other, and the later turn continues the earlier one's conversation. (Which of
    the two the server receives first is the network's business; the browser test checks the page's order.)"""
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    jobs = [client.submit(message, api_name="/chat") for message in ("a 90s comedy", "something darker")]
    earlier, later = sorted((job.result(timeout=120)[0] for job in jobs), key=len)
    asked = [" ".join(part["text"] for part in m["content"]) for m in later if m["role"] == "user"]
    assert sorted(asked) == ["a 90s comedy", "something darker"]
    assert [m["role"] for m in later] == ["user", "assistant", "user", "assistant"]
    # The earlier turn as it was answered, then the later one (the earlier reply's last view may also show the
    # later message, waiting).
    assert later[:2] == earlier[:2] and [m["role"] for m in earlier[:2]] == ["user", "assistant"]
