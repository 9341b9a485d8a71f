"""The Gradio chat UI. Each browser session gets its own ConversationState via ``gr.State``.

Endpoints exposed to ``gradio_client``: ``/chat`` (what the page uses: the reply streams),
``/recommend`` (the same turn, returning JSON for programs), ``/feedback`` (like or dislike an
item for the next turn), ``/new_conversation`` and ``/set_diversity``.

The cards are HTML rendered here, each with a "More like this" and a "Not this" button. A few
lines of JavaScript (``_CARD_JS``) hide a disliked card at once and send the click to the
server, which records it in the conversation state and re-renders the cards. Server-rendered
HTML keeps ``/chat``'s cards output a plain string that programs and tests can read.
"""

from __future__ import annotations

import html
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from tailtalk import privacy

privacy.apply_offline_defaults()

import gradio as gr  # noqa: E402  (imported after the privacy defaults on purpose)

from tailtalk.catalog import Item  # noqa: E402
from tailtalk.config import Settings  # noqa: E402
from ui.pipeline import TurnPipeline, TurnResult  # noqa: E402
from ui.assemble import build_serving_pipeline  # noqa: E402
from agent.state import ConversationState  # noqa: E402
from explain.templates import Explained  # noqa: E402
from tailtalk.errors import USER_ERRORS  # noqa: E402

log = logging.getLogger(__name__)
INTERNAL_ERROR = (
    "tailtalk could not answer this message: something failed inside the server, and its log has "
    "the details. Send the message again, or start a new conversation."
)

Action = Literal["like", "dislike"]
ACTIONS: tuple[Action, ...] = ("like", "dislike")
History = list[dict[str, str]]

_CSS = """
.tt-cards {display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 10px;}
.tt-card {border: 1px solid #ddd; border-radius: 8px; padding: 10px; background: #fafafa; color: #1f1f1f;
          display: flex; flex-direction: column;}
.tt-card[data-liked] {border: 2px solid #2e7d32;}
.tt-card.tt-gone {display: none;}
.tt-card h4 {margin: 0 0 4px 0;}
.tt-card p {flex-grow: 1;}
.tt-badge {background: #2e7d32; color: white; border-radius: 4px; padding: 1px 6px; font-size: 0.8em;
            display: inline-block; white-space: nowrap;}
.tt-meta {color: #555; font-size: 0.85em;}
.tt-actions {display: flex; gap: 6px;}
.tt-actions button {flex: 1; border: 1px solid #bbb; border-radius: 6px; padding: 4px 6px; background: white;
                    color: #1f1f1f; cursor: pointer; font-size: 0.85em; font-weight: 500; white-space: nowrap;
                    margin: 0;}
.tt-actions button:hover {background: #eee;}
.tt-card[data-liked] .tt-like {background: #e8f5e9; border-color: #2e7d32;}
.tt-note {margin: 0 0 8px 0;}
"""

# Runs once when the cards component mounts. The listener sits on the component's root, so it
# survives every re-render of the cards. Hiding the card here, before the server answers, makes a
# dislike visible at once even while the queue is busy; the server's re-render then drops it for good.
_CARD_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-tt-action]');
  const card = button && button.closest('.tt-card');
  if (!card) return;
  const action = button.dataset.ttAction;
  if (action === 'dislike') card.classList.add('tt-gone');
  else card.setAttribute('data-liked', '');
  trigger('click', {item_id: card.dataset.itemId, action: action});
});
"""


def _card(pick: Explained, *, liked: bool) -> str:
    item = pick.item
    meta = " · ".join(
        x
        for x in (
            str(item.year) if item.year else "",
            f"${item.price:,.2f}" if item.price is not None else "",
            ", ".join(item.categories[:3]),
        )
        if x
    )
    badge = '<span class="tt-badge">long-tail pick</span>' if pick.is_tail else ""
    key = html.escape(item.id)
    like_label = "👍 Liked" if liked else "👍 More like this"
    return (
        f'<div class="tt-card" id="tt-card-{key}" data-item-id="{key}"{" data-liked" if liked else ""}>'
        f"<h4>{html.escape(item.title)} {badge}</h4>"
        f'<div class="tt-meta">{html.escape(meta)}</div><p>{html.escape(pick.reason)}</p>'
        f'<div class="tt-actions">'
        f'<button type="button" class="tt-like" id="tt-like-{key}" data-tt-action="like">{like_label}</button>'
        f'<button type="button" class="tt-dislike" id="tt-dislike-{key}" data-tt-action="dislike">'
        f"👎 Not this</button></div></div>"
    )


def render_cards(picks: Sequence[Explained], state: ConversationState | None = None, note: str = "") -> str:
    """The picks as cards: disliked ones left out, liked ones marked, with an optional line above them."""
    liked = set(state.liked) if state else set()
    disliked = state.disliked if state else set()
    cards = [_card(p, liked=p.item.id in liked) for p in picks if p.item.id not in disliked]
    if picks and not cards:
        note = f"{note} No picks left here: send another message (e.g. 'something else') for new ones.".strip()
    head = f'<p class="tt-note">{html.escape(note)}</p>' if note else ""
    return f'{head}<div class="tt-cards">{"".join(cards)}</div>'


class ChatView:
    """What one browser tab shows beyond the conversation state: the transcript, the cards, and the messages
    waiting for their turn.

    A message sent while a reply streams is queued, not lost: its turn waits on ``lock`` until the reply
    before it is finished, and meanwhile it is shown below that reply. The transcript lives here, on the
    server, so a queued turn continues the conversation as it is when its turn comes, not as the page
    showed it when the message was sent.

    Example::

        >>> view = ChatView()
        >>> view.transcript.append({"role": "user", "content": "a comedy"})
        >>> view.writing = "Here are 5 films"
        >>> view.waiting.append("from the 90s")
        >>> [m["content"] for m in view.shown()]
        ['a comedy', 'Here are 5 films', 'from the 90s']

    Not a dataclass: Gradio would turn one into a dict for the page's config, lock and all.
    """

    def __init__(self) -> None:
        self.transcript: History = []
        self.picks: list[Explained] = []  # the cards on screen: what feedback re-renders
        self.writing: str | None = None  # the reply being streamed, until it is finished
        self.waiting: list[str] = []  # messages sent, not yet answered
        self.lock = threading.Lock()

    def shown(self) -> History:
        """The chat as the page shows it: the transcript, the reply being written, the waiting messages."""
        writing = [] if self.writing is None else [{"role": "assistant", "content": self.writing}]
        return [*self.transcript, *writing, *({"role": "user", "content": m} for m in self.waiting)]

    def __deepcopy__(self, memo: dict[int, Any]) -> ChatView:
        # gr.State deep-copies each session's initial value; a lock cannot be copied, and a copy needs its own.
        copy = ChatView()
        copy.transcript, copy.picks = [dict(m) for m in self.transcript], list(self.picks)
        copy.writing, copy.waiting = self.writing, list(self.waiting)
        return copy


def _turns(pipeline: TurnPipeline, state: ConversationState, message: str) -> Iterator[TurnResult]:
    """The pipeline's turn, with failures turned into an error box the user can act on: the message of an
    error written for people, else an apology (the traceback goes to the server's log, never the page)."""
    try:
        yield from pipeline.stream(state, message)
    except USER_ERRORS as exc:
        log.warning("turn failed: %s", exc)
        raise gr.Error(str(exc), print_exception=False) from exc
    except Exception as exc:  # noqa: BLE001 - the UI's boundary: logged in full, shown as one sentence
        log.exception("turn failed")
        raise gr.Error(INTERNAL_ERROR, print_exception=False) from exc


# The page's invitation and the message box's example, in the words of the catalogue's domain.
PAGE_TEXT = {
    "films": (
        "Tell me what you are in the mood for: genres, a decade, films you loved or things to avoid.",
        "e.g. something scary but not too gory, like The Shining",
    ),
    "products": (
        "Tell me what you are looking for: the kind of product, your budget, brands you like or things "
        "to avoid. Ask me anything about a product shown.",
        "e.g. running shoes under $70, not Nike",
    ),
}


def build_app(pipeline: TurnPipeline, settings: Settings) -> gr.Blocks:
    def record_feedback(state: ConversationState, item_id: str, action: str) -> Item:
        """Apply one like or dislike to this conversation; the next turn reads it from the state."""
        if action not in ACTIONS:
            raise gr.Error(f"feedback must be 'like' or 'dislike', not {action!r}")
        if item_id not in pipeline.catalog:
            raise gr.Error(
                f"no item with id {item_id!r} in the catalogue: use an id from a turn's items "
                "(the 'items' that /recommend returns)"
            )
        pipeline.feedback(state, item_id, liked=action == "like")
        return pipeline.catalog.get(item_id)

    def chat(message: str, state: ConversationState, view: ChatView) -> Iterator[tuple[Any, ...]]:
        # Every message is answered, an empty one too (with what to send): a turn that vanishes looks broken.
        message = message or ""
        view.waiting.append(message)
        yield view.shown(), gr.skip(), state, view  # at once, even while another reply streams: queued

        with view.lock:  # one turn at a time per tab, in the order sent
            view.waiting.remove(message)
            view.transcript.append({"role": "user", "content": message})
            try:
                sent: tuple[str, str] | None = None
                for result in _turns(pipeline, state, message):  # the reply grows sentence by sentence
                    view.writing = result.reply
                    # A turn without picks (a question about a shown item, a clarifying question, nothing
                    # found) leaves the cards as they were: they stay the list the user can refer to and rate.
                    view.picks = result.picks or view.picks
                    # The cards are rendered against the live state, so a dislike clicked while the reply
                    # is still streaming is not undone by the next partial result.
                    cards = render_cards(view.picks, state)
                    if (view.writing, cards) == sent:
                        # Nothing the page shows changed (a template reply comes whole, then again as the
                        # complete result): sending the history and cards again only costs the server.
                        continue
                    sent = (view.writing, cards)
                    yield view.shown(), cards, state, view
            finally:
                if view.writing is not None:
                    view.transcript.append({"role": "assistant", "content": view.writing})
                view.writing = None

    def card_feedback(state: ConversationState, view: ChatView, event: gr.EventData) -> tuple[str, ConversationState]:
        """A click on a card's button (sent by ``_CARD_JS`` with the item id and the action)."""
        item = record_feedback(state, str(event.item_id), str(event.action))
        note = (
            f"👍 Noted: your next message will lean towards {item.label}."
            if event.action == "like"
            else f"👎 Noted: {item.label} will not be suggested again in this conversation."
        )
        return render_cards(view.picks, state, note), state

    def feedback(item_id: str, action: str, state: ConversationState) -> tuple[dict[str, Any], ConversationState]:
        record_feedback(state, (item_id or "").strip(), (action or "").strip().lower())
        return (
            {"conversation_id": state.conversation_id, "liked": list(state.liked), "disliked": sorted(state.disliked)},
            state,
        )

    def recommend(message: str, state: ConversationState) -> tuple[dict[str, Any], ConversationState]:
        *_, result = _turns(pipeline, state, message or "")
        return pipeline.turn_json(result, state), state

    def new_conversation(diversity: float) -> tuple[History, str, ConversationState, ChatView]:
        return [], "", ConversationState(diversity=diversity), ChatView()

    def set_diversity(value: float, state: ConversationState) -> ConversationState:
        if not 0.0 <= float(value) <= 1.0:
            raise gr.Error("the long-tail knob goes from 0 (relevance only) to 1 (novelty and tail only)")
        state.diversity = float(value)
        return state

    with gr.Blocks(title="tailtalk", analytics_enabled=False) as demo:
        invitation, example = PAGE_TEXT[settings.domain]
        gr.Markdown(f"## tailtalk\n{invitation}")
        gr.Markdown(pipeline.status_line(), elem_id="tt-status")
        state = gr.State(ConversationState.new)  # a callable: every session gets its own state
        # The transcript and cards on screen. A literal: gr.State deep-copies it per session (a callable
        # default would also publish a needless load endpoint named after it).
        view = gr.State(ChatView())
        chatbot = gr.Chatbot(label="Conversation", height=380, elem_id="tt-chat")
        cards = gr.HTML(elem_id="tt-cards", js_on_load=_CARD_JS)
        with gr.Row():
            message = gr.Textbox(placeholder=example, show_label=False, scale=5, elem_id="tt-message")
            send = gr.Button("Send", variant="primary", scale=1, elem_id="tt-send")
        with gr.Row():
            knob = gr.Slider(
                0.0,
                1.0,
                value=settings.diversity,
                step=0.05,
                elem_id="tt-diversity",
                scale=4,
                label="Long tail and variety (0 = closest matches, 1 = lesser-known and varied)",
            )
            new = gr.Button("New conversation", elem_id="tt-new", scale=1)
        # Inputs and outputs of the endpoints for programs; the labels name their parameters.
        api_message = gr.Textbox(label="message", visible=False)
        api_result = gr.JSON(label="turn", visible=False)
        api_item = gr.Textbox(label="item_id", visible=False)
        api_action = gr.Textbox(label="action", visible=False)
        api_feedback = gr.JSON(label="feedback", visible=False)

        # "multiple": a message sent while a reply streams is queued (see ChatView), not dropped. The box is
        # emptied in the page, once per message sent: a turn's output never touches it, so nothing the
        # person types while a reply streams is wiped.
        # Every event that runs a turn (the page's, /chat, /recommend) draws on one pool of ui_workers: with a
        # pool per event, 50 users on /chat queued behind its 4 workers while /recommend's sat idle.
        workers = settings.ui_workers
        turn_io = ([message, state, view], [chatbot, cards, state, view])
        for sent, api in ((message.submit, {"api_name": "chat"}), (send.click, {"api_visibility": "private"})):
            sent(
                chat,
                *turn_io,
                trigger_mode="multiple",
                concurrency_id="turns",
                concurrency_limit=workers,
                **api,  # type: ignore[arg-type]
            )
            sent(None, None, [message], js="() => ''", trigger_mode="multiple", api_visibility="private")
        # "multiple": a second click must not be dropped while the first is in flight; one at a
        # time (across sessions; each takes microseconds) so the re-rendered cards arrive in click order.
        cards.click(
            card_feedback,
            [state, view],
            [cards, state],
            api_visibility="private",
            trigger_mode="multiple",
            concurrency_limit=1,
            concurrency_id="card_feedback",
        )
        new.click(new_conversation, [knob], [chatbot, cards, state, view], api_name="new_conversation")
        knob.change(set_diversity, [knob, state], [state], api_name="set_diversity")
        api_message.submit(
            recommend,
            [api_message, state],
            [api_result, state],
            api_name="recommend",
            concurrency_id="turns",
            concurrency_limit=workers,
        )
        api_item.submit(feedback, [api_item, api_action, state], [api_feedback, state], api_name="feedback")
    return demo


_NEVER = str(10**12)  # events between two refreshes of a summary nothing reads


def import_what_events_import() -> None:
    """Pay now what Gradio's first event would: it switches matplotlib's backend around every event, and the
    first switch imports pyplot, half a second holding the interpreter while every user who came at the start
    waited (`py-spy` on an app process under the load test, issue 17)."""
    from gradio.utils import MatplotlibBackendMananger  # Gradio's own spelling

    with MatplotlibBackendMananger():
        pass


def launch(settings: Settings, *, block: bool = True, pipeline: TurnPipeline | None = None) -> gr.Blocks:
    pipeline = pipeline or build_serving_pipeline(settings)
    demo = build_app(pipeline, settings)
    user, _, password = (settings.ui_auth or "").partition(":")
    auth = (user, password) if settings.ui_auth else None
    # Gradio's queue rebuilds a pandas summary of its last 10,000 events after every event, for its
    # monitoring page only (switched off below): 3 ms an event at 1,000 events served, 9 ms at 10,000,
    # most of it holding the GIL. Read when the queue is made; a user's own value wins.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", _NEVER)
    demo.queue(default_concurrency_limit=settings.ui_workers)
    import_what_events_import()
    demo.launch(
        server_name=settings.ui_host,
        server_port=settings.ui_port,
        share=False,
        auth=auth,
        prevent_thread_lock=not block,
        quiet=False,
        css=_CSS,
        enable_monitoring=False,  # Gradio's default serves per-endpoint timings to anyone at /monitoring/summary
    )
    return demo
