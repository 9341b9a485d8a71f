"""Prompt templates live here as TOML files, one per step, each declaring its variables.

A file has ``variables`` (the names the code must fill), ``system`` and ``human``
message templates in LangChain's ``{name}`` syntax. :func:`load_prompt` refuses a file
whose templates use a variable it does not declare, or declare one they never use, so a
prompt edit cannot silently drop the catalogue facts or the user's message.

Example::

    >>> from prompts import load_prompt
    >>> sorted(load_prompt("clarify").input_variables)
    ['domain', 'message']
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from tailtalk.errors import UserError

if TYPE_CHECKING:  # imported when a prompt is used: a model is on
    from langchain_core.prompts import ChatPromptTemplate

PROMPTS_DIR = Path(__file__).resolve().parent


class PromptError(UserError, ValueError):
    """A prompt file is missing or malformed; the message names the file and the fix."""


@cache
def load_prompt(name: str) -> ChatPromptTemplate:
    path = PROMPTS_DIR / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.toml")))
        raise PromptError(f"no prompt {name!r} in {PROMPTS_DIR}; known prompts: {known}")
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PromptError(f"{path}: not valid TOML ({exc})") from exc
    missing = {"variables", "system", "human"} - set(spec)
    if missing:
        raise PromptError(f"{path}: missing {', '.join(sorted(missing))}")
    from langchain_core.prompts import ChatPromptTemplate

    template = ChatPromptTemplate.from_messages([("system", spec["system"]), ("human", spec["human"])])
    declared, used = set(spec["variables"]), set(template.input_variables)
    if declared != used:
        raise PromptError(f"{path}: declared variables {sorted(declared)} but the templates use {sorted(used)}")
    return template


@cache
def _spec(name: str) -> dict:
    load_prompt(name)  # validates the file first
    return tomllib.loads((PROMPTS_DIR / f"{name}.toml").read_text(encoding="utf-8"))


def prompt_text(name: str) -> str:
    """The raw system text of a prompt (used to notice a reply that recites its instructions)."""
    return _spec(name)["system"]


def field_labels(name: str) -> list[str]:
    """The labels of the prompt's input fields ("Request", "Wishes", "List"): a reply that writes "Wishes:"
    recites the prompt's layout, not a recommendation."""
    return re.findall(r"^(\w[\w ]*):", _spec(name)["human"], flags=re.MULTILINE)


def example_titles(name: str) -> list[str]:
    """Made-up titles a prompt's examples use: a reply naming one has copied the example."""
    return list(_spec(name).get("example_titles", []))
