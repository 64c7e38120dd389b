"""The exception types that map one-to-one onto ovtool's exit codes (see DESIGN.md)."""

from __future__ import annotations


class OvtoolError(Exception):
    """Base of every error ovtool reports as one line; `exit_code` is what the process returns."""

    exit_code = 1


class WorkFailed(OvtoolError):
    """The inputs were valid but the work itself failed (exit 1)."""

    exit_code = 1


class UserError(OvtoolError):
    """Invalid input: usage, recipe, model or dataset (exit 2). The message names what to fix."""

    exit_code = 2


class RecipeError(UserError):
    """A recipe with one or more problems, all reported at once with dotted paths."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        if len(problems) == 1:
            text = f"{where}{problems[0]}"
        else:
            text = f"{where}{len(problems)} problems\n" + "\n".join(f"  - {p}" for p in problems)
        super().__init__(text)


class GateFailed(OvtoolError):
    """A gate of the recipe was not met (exit 3); the work itself was published."""

    exit_code = 3


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of a library's exception message (its name when empty): enough for a one-line error."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


def innermost_cause(exc: BaseException) -> BaseException:
    """The end of the `raise … from` chain: a library's wrapper ("Failed to import dataset", "An error
    occurred while generating the dataset") over the parser's own sentence, which is what to show."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


SHORT_LIMIT = 200


def shorten(text: object, limit: int = SHORT_LIMIT) -> str:
    """A path or argument echoed in a message, cut to ~`limit` characters (head…tail).

    A recipe can hold a 50 MB `model:` value; an error must never print it back whole.
    """
    text = str(text)
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    return f"{text[:head]}…{text[-(limit - head - 1):]} ({len(text)} characters)"
