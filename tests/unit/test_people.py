"""The people a catalogue credits, and the items a person said not to want."""

from __future__ import annotations

from agent.people import PeopleIndex
from tailtalk.catalog import Catalog, Item


def _people() -> PeopleIndex:
    return PeopleIndex(
        Catalog(
            (
                Item(id="a", title="Office Love", attributes={"stars": ["Jennifer Aniston", "Paul Rudd"]}),
                Item(id="b", title="Wanderlust", attributes={"stars": ["Paul Rudd", "Jennifer Aniston"]}),
                Item(id="c", title="Top Gun", attributes={"stars": ["Tom Cruise"], "director": ["Tony Scott"]}),
                Item(id="d", title="Madonna: Truth or Dare", attributes={"stars": ["Madonna"]}),
                Item(id="e", title="Untitled", attributes={"note": "Jennifer Aniston"}),  # no list: no credit
            )
        )
    )


def test_a_full_name_among_the_words_names_every_item_that_credits_it():
    assert _people().ids_named(["romantic", "jennifer", "aniston", "please"]) == {"a", "b"}
    assert _people().ids_named(["tony", "scott", "paul", "rudd"]) == {"a", "b", "c"}


def test_a_surname_a_single_name_or_words_out_of_order_name_no_one():
    people = _people()
    assert people.ids_named(["aniston"]) == frozenset()
    assert people.ids_named(["madonna"]) == frozenset()  # one word could be any word
    assert people.ids_named(["aniston", "jennifer"]) == frozenset()
    assert people.ids_named([]) == frozenset()


def test_a_term_of_several_words_is_read_word_by_word():
    assert _people().ids_named(["Tom Cruise", "gore"]) == {"c"}  # a language model's avoid list


def test_names_are_given_as_the_catalogue_writes_them_once_each_in_the_order_said():
    assert _people().names_in(["tom", "cruise", "jennifer", "aniston", "tom", "cruise"]) == [
        "Tom Cruise",
        "Jennifer Aniston",
    ]
