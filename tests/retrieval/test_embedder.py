"""The torch embedder batches a few texts of unlike length apart, and gives the same vectors as one text at a time."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.embedder import SentenceTransformerEmbedder, like_length_groups

QUERY = "user: I loved The Shining and It Follows, something scary but not too gory | assistant: Alien (1979) " * 3


def test_like_length_groups_by_hand():
    # lengths 40, 3, 10, 38, 100: sorted 3, 10, 38, 40, 100. With no slack a group admits up to twice its
    # shortest: [3] (10 > 6), [10] (38 > 20), [38, 40] (100 > 76), [100].
    texts = ["a" * 40, "abc", "a" * 10, "a" * 38, "a" * 100]
    assert like_length_groups(texts, slack=0) == [[1], [2], [3, 0], [4]]
    # 8 characters of slack let 10 join 3 (3 * 2 + 8 = 14), and 38 and 40 stay together as before.
    assert like_length_groups(texts, slack=8) == [[1, 2], [3, 0], [4]]
    assert like_length_groups([]) == []
    assert like_length_groups(["same", "size", "text"]) == [[0, 1, 2]]  # ties keep their order


@pytest.fixture(scope="module")
def embedder():
    return SentenceTransformerEmbedder()


def test_a_turns_texts_equal_each_text_alone(embedder):
    # What a turn encodes: its dialogue, the words to avoid, what was ruled out, and the dialogue less those words.
    texts = [QUERY, "gory", "horror", QUERY.replace("gory", "")]
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts])
    assert together.shape == (4, embedder.dimension) and together.dtype == np.float32
    assert np.abs(together - alone).max() < 1e-5  # each row is its own text's, in the order given
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert float(together[1] @ together[2]) < 0.99  # the rows are not one vector repeated


def test_more_than_a_batch_is_one_call_in_input_order(embedder):
    texts = [f"a film about {n} dogs" + " and cats" * (n % 7) for n in range(embedder.batch_size + 3)]
    vectors = embedder.embed(texts)
    assert vectors.shape == (len(texts), embedder.dimension)
    for row in (0, 5, len(texts) - 1):
        assert np.abs(vectors[row] - embedder.embed([texts[row]])[0]).max() < 1e-5
