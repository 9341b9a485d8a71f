"""The errors written for people: each one's message says what went wrong and what to do next.

Front ends show these messages as they are (the CLI as ``error: ...``, the chat UI as an
error box); any other exception is an internal fault, logged with its traceback for the
operator and shown to the user only as a short apology. Each stage's own errors subclass
:class:`UserError` where they are raised, so this base module imports no stage.

Example::

    >>> from tailtalk.errors import USER_ERRORS, UserError
    >>> class MissingThing(UserError):
    ...     pass
    >>> isinstance(MissingThing("run `tailtalk index` first"), USER_ERRORS)
    True
"""

from __future__ import annotations


class UserError(Exception):
    """A failure the person can fix; its message says how."""


class UserInputError(UserError, ValueError):
    """A request the person can correct: an unknown name, a bad option, a file that is not what it should be."""


# What a front end shows as it is: errors written for people, and a missing file the person named. Any other
# exception, a ValueError included, is a fault: logged with its traceback, shown as an apology.
USER_ERRORS: tuple[type[BaseException], ...] = (UserError, FileNotFoundError)
