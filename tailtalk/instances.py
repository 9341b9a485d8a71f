"""Evaluation instances from dialogue logs, under the two published conventions.

At every assistant turn that names at least one catalogue item, the context is all
earlier turns and the targets are that turn's items.

* **all** (CRSLab / iEvaLM): every target counts, nothing is excluded from the ranking.
* **new** (the "dedup" convention of He et al. 2023): only targets not mentioned earlier
  in the dialogue count, and items mentioned earlier are removed from the ranking.

Example::

    >>> from tailtalk.dialogues import Dialogue, Turn
    >>> d = Dialogue(id="d", turns=[Turn(role="user", text="like A?", items=["a"]),
    ...                             Turn(role="assistant", text="try A or B", items=["a", "b"])])
    >>> [(i.targets, i.new_targets, sorted(i.mentioned)) for i in instances_of([d], {"a", "b"})]
    [(('a', 'b'), ('b',), ['a'])]
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass

from tailtalk.dialogues import Dialogue, Turn


@dataclass(frozen=True)
class Instance:
    dialogue_id: str
    turn_index: int
    context: tuple[Turn, ...]
    targets: tuple[str, ...]
    new_targets: tuple[str, ...]
    mentioned: frozenset[str]


def instances_of(dialogues: Iterable[Dialogue], catalog_ids: Container[str]) -> list[Instance]:
    out: list[Instance] = []
    for dialogue in dialogues:
        mentioned: set[str] = set()
        for index, turn in enumerate(dialogue.turns):
            targets = tuple(i for i in dict.fromkeys(turn.items) if i in catalog_ids)
            if turn.role == "assistant" and targets and index > 0:
                out.append(
                    Instance(
                        dialogue.id,
                        index,
                        dialogue.turns[:index],
                        targets,
                        tuple(t for t in targets if t not in mentioned),
                        frozenset(mentioned),
                    )
                )
            mentioned.update(turn.items)
    return out


def check_cutoff(k: int) -> None:
    """Refuse a rank cut-off below 1 (every metric at k checks it)."""
    if k < 1:
        raise ValueError(f"k must be a positive cut-off such as 10, got {k}")


def recall_at_k(ranked: Sequence[str], target: str, k: int) -> float:
    """1.0 when ``target`` is in the top ``k`` of ``ranked``, else 0.0: the one recall of the project (the
    evaluation's metric registry and the scorer's early stopping both use it).

    >>> recall_at_k(["a", "b"], "b", 2), recall_at_k(["a", "b"], "b", 1)
    (1.0, 0.0)
    """
    check_cutoff(k)
    return 1.0 if target in ranked[:k] else 0.0


def mean_recall_at_k(ranked: Sequence[Sequence[str]], instances: Sequence[Instance], k: int) -> float:
    """Recall@k averaged over every (instance, target) pair, ``ranked[n]`` being instance n's list.

    >>> from tailtalk.dialogues import Turn
    >>> two = [Instance("d", 1, (Turn(role="user", text="hi"),), ("a", "b"), ("a", "b"), frozenset())]
    >>> mean_recall_at_k([["a", "c"]], two, 1), mean_recall_at_k([["a", "b"]], two, 2)
    (0.5, 1.0)
    """
    hits = [recall_at_k(r, t, k) for r, i in zip(ranked, instances, strict=True) for t in i.targets]
    return sum(hits) / len(hits) if hits else 0.0
