"""The Gradio chat UI. Each browser session gets its own ConversationState via ``gr.State``.

Two endpoints are exposed to ``gradio_client``: ``/chat`` (what the page uses) and
``/recommend`` (the same turn, returning JSON for programs).
"""

from __future__ import annotations

import html

from tailtalk import privacy

privacy.apply_offline_defaults()

import gradio as gr  # noqa: E402  (imported after the privacy defaults on purpose)

from tailtalk.config import Settings  # noqa: E402
from agent.pipeline import TurnPipeline, TurnResult, build_pipeline  # noqa: E402
from agent.state import ConversationState  # noqa: E402

_CSS = """
.tt-cards {display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 10px;}
.tt-card {border: 1px solid #ddd; border-radius: 8px; padding: 10px; background: #fafafa;}
.tt-card h4 {margin: 0 0 4px 0;}
.tt-badge {background: #2e7d32; color: white; border-radius: 4px; padding: 1px 6px; font-size: 0.8em;}
.tt-meta {color: #555; font-size: 0.85em;}
"""


def render_cards(result: TurnResult) -> str:
    cards = []
    for pick in result.picks:
        item = pick.item
        meta = " · ".join(x for x in (str(item.year) if item.year else "",
                                      f"${item.price:,.2f}" if item.price is not None else "",
                                      ", ".join(item.categories[:3])) if x)
        badge = '<span class="tt-badge">long-tail pick</span>' if pick.is_tail else ""
        cards.append(
            f'<div class="tt-card" data-item-id="{html.escape(item.id)}"><h4>{html.escape(item.title)} {badge}</h4>'
            f'<div class="tt-meta">{html.escape(meta)}</div><p>{html.escape(pick.reason)}</p></div>'
        )
    return f'<div class="tt-cards">{"".join(cards)}</div>'


def build_app(pipeline: TurnPipeline, settings: Settings) -> gr.Blocks:
    status = (f"**LLM:** {pipeline.responder.name} · **ranker:** {pipeline.ranker.describe()} · "
              f"**catalogue:** {pipeline.retriever.describe()}")

    def chat(message: str, history: list[dict[str, str]], state: ConversationState):
        if not message or not message.strip():
            yield "", history, gr.skip(), state
            return
        asked = [*history, {"role": "user", "content": message}]
        cards_html = None
        for result in pipeline.stream(state, message):  # the reply grows sentence by sentence
            if cards_html is None:
                cards_html = render_cards(result)
            yield "", [*asked, {"role": "assistant", "content": result.reply}], cards_html, state

    def recommend(message: str, state: ConversationState):
        result = pipeline.handle(state, message or "")
        return result.to_json(state.conversation_id), state

    def new_conversation(diversity: float):
        return [], "", ConversationState(diversity=diversity)

    def set_diversity(value: float, state: ConversationState):
        if not 0.0 <= float(value) <= 1.0:
            raise gr.Error("the long-tail knob goes from 0 (relevance only) to 1 (novelty and tail only)")
        state.diversity = float(value)
        return state

    with gr.Blocks(title="tailtalk", analytics_enabled=False) as demo:
        gr.Markdown("## tailtalk\nTell me what you are in the mood for: genres, a decade, films you loved or "
                    "things to avoid.")
        gr.Markdown(status, elem_id="tt-status")
        state = gr.State(ConversationState.new)  # a callable: every session gets its own state
        chatbot = gr.Chatbot(label="Conversation", height=380, elem_id="tt-chat")
        cards = gr.HTML(elem_id="tt-cards")
        with gr.Row():
            message = gr.Textbox(placeholder="e.g. something scary but not too gory, like The Shining",
                                 show_label=False, scale=5, elem_id="tt-message")
            send = gr.Button("Send", variant="primary", scale=1, elem_id="tt-send")
        with gr.Row():
            knob = gr.Slider(0.0, 1.0, value=settings.diversity, step=0.05, elem_id="tt-diversity", scale=4,
                             label="Long tail and variety (0 = closest matches, 1 = lesser-known and varied)")
            new = gr.Button("New conversation", elem_id="tt-new", scale=1)
        api_message = gr.Textbox(visible=False)
        api_result = gr.JSON(visible=False)

        message.submit(chat, [message, chatbot, state], [message, chatbot, cards, state], api_name="chat")
        send.click(chat, [message, chatbot, state], [message, chatbot, cards, state], api_name=False)
        new.click(new_conversation, [knob], [chatbot, cards, state], api_name="new_conversation")
        knob.change(set_diversity, [knob, state], [state], api_name="set_diversity")
        api_message.submit(recommend, [api_message, state], [api_result, state], api_name="recommend")
    return demo


def launch(settings: Settings, *, block: bool = True, pipeline: TurnPipeline | None = None):
    pipeline = pipeline or build_pipeline(settings)
    demo = build_app(pipeline, settings)
    auth = tuple(settings.ui_auth.split(":", 1)) if settings.ui_auth else None
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=settings.ui_host, server_port=settings.ui_port, share=False, auth=auth,
                prevent_thread_lock=not block, quiet=False, css=_CSS)
    return demo
