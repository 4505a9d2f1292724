"""Errors shown to users: one line, naming what was wrong and what is allowed.

The CLI and the API catch these and print/return the message; they never show a
traceback for bad input.
"""


class DermCoderError(Exception):
    """Base class of every error DermCoder reports to a user."""


class InputError(DermCoderError):
    """Bad input: a missing file, an unreadable line, a note that breaks a limit."""


class NoteTooLongError(InputError):
    """A note over DERMCODER_MAX_NOTE_CHARS (the API answers 413)."""


class TableError(DermCoderError):
    """A code table or lexicon failed validation; the message lists every problem."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


class ModelError(DermCoderError):
    """A model artifact is missing or was built for other library versions."""
