"""The few exception types the inspector raises, each naming the file and the reason.

The CLI turns any :class:`InspectError` into one line on stderr and exit code 1
(2 for :class:`UsageError`); library users catch them like any exception.
"""

from __future__ import annotations

from typing import Optional


class InspectError(Exception):
    """Base class: something about the model prevents inspecting it."""

    exit_code = 1

    def __init__(self, reason: str, path: Optional[str] = None):
        self.reason = reason
        self.path = path
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return one_line(f"{self.path}: {self.reason}" if self.path else self.reason)


def one_line(text: str) -> str:
    """``text`` with newlines and other control characters escaped: names inside a
    hostile model must not break the one-line-per-message contract."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def first_line(error: BaseException, limit: Optional[int] = None) -> str:
    """The first line of an exception's message (its type name when it has none),
    cut to ``limit`` characters: a library's multi-line error quoted in ours."""
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:limit]


class ModelLoadError(InspectError):
    """The file cannot be read as an ONNX model (missing, empty, not protobuf, truncated)."""


class GraphError(InspectError):
    """The model parses but its graph is invalid (cycle, dangling reference, duplicates)."""


class UsageError(InspectError):
    """The caller's options are wrong (malformed ``--input`` or ``--dim``, unknown input name).

    ``subject`` says what was wrong in the library's terms (``dims['Q']``), ``option`` in
    the command line's (``--dim Q``): each audience reads the error in its own words.
    """

    exit_code = 2

    def __init__(self, reason: str, path: Optional[str] = None, subject: Optional[str] = None,
                 option: Optional[str] = None):
        self.subject = subject
        self.option = option
        super().__init__(f"{subject}: {reason}" if subject else reason, path)
        self.problem = reason

    def for_cli(self) -> "UsageError":
        """The same error phrased with the command-line option it came from."""
        if not self.option:
            return self
        return UsageError(f"{self.option}: {self.problem}", self.path)


CONFLICT_EXIT = 3   # exit status of `onnxinspect MODEL --check` when a real shape conflict is found
