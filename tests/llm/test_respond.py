"""The respond step: the template lead-in, sentence-gated streaming of the model's words, repair and fallback,
with fake models."""

from __future__ import annotations

import json

import openai
from openai.types.chat import ChatCompletion
import httpx
import pytest

from tailtalk.catalog import Item
from tailtalk.titles import TitleMatcher
from explain.respond import LLMResponder, Reply, ReplyRequest, SentenceBuffer, TemplateResponder, final_reply
from explain.templates import Explained
from tests.llm.fakes import failing, scripted

ITEMS = [
    Item(id="1", title="Alien", year=1979, categories=("horror",), description="A crew meets a creature."),
    Item(id="2", title="The Thing", year=1982, categories=("horror",)),
    Item(id="3", title="Heat", year=1995, categories=("crime",)),
]
TITLES = TitleMatcher([(i.id, i.title, i.year) for i in ITEMS])
PICKS = [Explained(ITEMS[0], "Horror (1979).", 0.9, False), Explained(ITEMS[1], "Horror (1982).", 0.8, True)]
REQUEST = ReplyRequest("something scary", PICKS, ["scary"])
LEAD = "Here are 2 films for your wish: scary."


def _responder(*replies: str) -> LLMResponder:
    return LLMResponder(scripted(*replies), TITLES)


def test_sentence_buffer_releases_whole_sentences_only():
    buffer = SentenceBuffer()
    assert buffer.add("1. Alien is sca") == []
    assert buffer.add("ry. The Thing (1982) is col") == [("1. Alien is scary.", " ")]
    assert buffer.add("d.\n2. Mr. Smith lik") == [("The Thing (1982) is cold.", "\n")]
    assert buffer.flush() == [("2. Mr. Smith lik", "")]


def test_a_grounded_reply_streams_in_pieces_and_ships_unchanged():
    events = list(_responder("Alien is a tense horror from 1979. The Thing is colder still.").stream(REQUEST))
    reply = events[-1]
    assert isinstance(reply, Reply) and reply.generated
    assert len([e for e in events if isinstance(e, str)]) == 3  # the lead-in, then one piece per sentence
    assert reply.text == f"{LEAD} Alien is a tense horror from 1979. The Thing is colder still."
    assert not reply.grounding.repaired and reply.grounding.shipped_out_of_list == []


def test_a_sentence_naming_an_item_outside_the_list_is_dropped():
    reply = final_reply(_responder("Alien is great. Heat is better. The Thing is cold.").stream(REQUEST))
    assert "Heat" not in reply.text and "Alien is great." in reply.text
    assert reply.grounding.repaired and reply.grounding.dropped[0][0] == "Heat is better."
    assert reply.grounding.shipped_out_of_list == []


def test_a_sentence_continuing_about_one_pick_may_not_carry_another_picks_facts():
    reply = final_reply(_responder("Alien is scary. It came out in 1982. The Thing is cold.").stream(REQUEST))
    assert "1982" not in reply.text.split("The Thing")[0]
    assert reply.grounding.dropped[0][0] == "It came out in 1982."


def test_a_sentence_after_a_dropped_one_is_read_as_the_person_reads_it():
    """The person never sees the dropped sentence naming The Thing, so "(1982): ..." after it reads as about
    Alien, the last item shown: it is dropped, not shipped as Alien's year (the case eval-replies found)."""
    reply = final_reply(_responder("Alien is scary. The Thing, Heat and more. (1982): cold and grim.").stream(REQUEST))
    assert "1982" not in reply.text
    assert [s for s, _ in reply.grounding.dropped] == ["The Thing, Heat and more.", "(1982): cold and grim."]


def test_a_sentence_reciting_the_prompts_layout_is_dropped():
    """The case eval-replies found: the small model wrote its input fields back ("Wishes: ... List: 1. ...")."""
    reply = final_reply(_responder("Alien is scary. Wishes: scary, tonight List: 1. The Thing.").stream(REQUEST))
    assert "Wishes" not in reply.text and "Alien is scary." in reply.text
    assert reply.grounding.dropped[0][1] == ["recites the prompt's layout (Wishes:)"]


def test_a_sentence_about_none_of_the_picks_is_dropped():
    """What `tailtalk ask` showed for "something funny and short for tonight": the small model talked about
    itself ("You're a film recommender, a friendly and humorous one. I'm a funny one, a funny one.")."""
    said = "I'm a scary one, a scary one. Alien is scary. It is tense too."
    reply = final_reply(_responder(said).stream(REQUEST))
    assert reply.text == f"{LEAD} Alien is scary. It is tense too."  # "It is ..." continues about Alien
    [(dropped, problems)] = reply.grounding.dropped
    assert (dropped, problems) == ("I'm a scary one, a scary one.", ["about none of the picks"])


def test_a_sentence_copying_a_card_is_dropped():
    """What the embedded model wrote for "a scary movie for a sleepover": the pick's card again, which the person
    sees beside the reply ("1. It (2017): Matches your wish for scary.")."""
    picks = [Explained(ITEMS[0], "Matches your wish for scary. A crew meets a creature.", 0.9, False), PICKS[1]]
    said = "1. Alien (1979): Matches your wish for scary. Alien is a classic of space horror."
    reply = final_reply(_responder(said).stream(ReplyRequest("something scary", picks, ["scary"])))
    assert reply.grounding.dropped == [("1. Alien (1979): Matches your wish for scary.", ["repeats a card"])]
    assert reply.text.endswith(" Alien is a classic of space horror.")


def test_the_report_names_the_request_text_the_check_read():
    """Eval's fresh check of shipped sentences reads the same request text (message and wishes) as the live one."""
    reply = final_reply(_responder("Alien is scary.").stream(ReplyRequest("any ideas", PICKS, ["spooky"])))
    assert reply.grounding.request == "any ideas spooky"


def test_the_reply_does_not_repeat_the_cards_and_ends_with_the_follow_up():
    request = ReplyRequest("something scary", PICKS, ["scary"], follow_up="Older or newer?")
    reply = final_reply(_responder("Alien is a perfect scary pick.").stream(request))
    assert reply.text == f"{LEAD} Alien is a perfect scary pick. Older or newer?"
    assert "Horror (1982)." not in reply.text  # a card's reason stays on its card
    assert final_reply(TemplateResponder().stream(request)).text == f"{LEAD} Older or newer?"


def test_nothing_usable_falls_back_to_the_template_reply():
    reply = final_reply(_responder('Watch "Night Of The Lake" (1990) tonight.').stream(REQUEST))
    assert reply.grounding.fell_back and not reply.generated
    assert reply.text == final_reply(TemplateResponder().stream(REQUEST)).text


@pytest.mark.parametrize(
    "error, said",
    [
        (openai.APIConnectionError(request=httpx.Request("POST", "http://127.0.0.1:9/v1")), "could not be reached"),
        (openai.APITimeoutError(request=httpx.Request("POST", "http://127.0.0.1:9/v1")), "did not answer in time"),
        (json.JSONDecodeError("Expecting value", "data: {", 6), "could not be used"),  # a garbled stream
        (openai.LengthFinishReasonError(completion=ChatCompletion.construct(usage=None)), "ran out of room"),
    ],
)
def test_a_failing_model_still_answers_with_templates_and_a_notice(error, said):
    reply = final_reply(LLMResponder(failing(error), TITLES).stream(REQUEST))
    assert reply.grounding.fell_back
    assert reply.text.startswith(LEAD) and not reply.generated
    assert len(reply.notices) == 1 and said in reply.notices[0]
    assert said in reply.text  # the notice is visible in the reply itself
    assert "Error" not in reply.text and "Expecting value" not in reply.text  # no exception text


def test_clarifying_question_without_titles_is_kept():
    reply = final_reply(_responder("What kind of mood are you in tonight?").clarify("hi"))
    assert reply.text == "What kind of mood are you in tonight?" and reply.generated


def test_clarifying_question_naming_a_title_is_replaced():
    reply = final_reply(_responder("You should watch Heat? Or maybe Alien?").clarify("hi"))
    assert "Heat" not in reply.text and "Alien" not in reply.text
    assert reply.grounding.fell_back and "?" in reply.text


@pytest.mark.parametrize(
    "responder", [TemplateResponder(), _responder("Alien is scary. The Thing is cold.")], ids=["template", "llm"]
)
def test_responder_conformance(responder):
    """Both responders: a stream of text that ends in a Reply that opens with the lead-in, names nothing
    outside the list, and is what was streamed."""
    events = list(responder.stream(REQUEST))
    assert isinstance(events[-1], Reply) and all(isinstance(e, str) for e in events[:-1])
    text = events[-1].text
    assert "".join(events[:-1]).strip() == text
    assert text.startswith(LEAD) and "Heat" not in text
