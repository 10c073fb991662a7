"""What went wrong in a config load, said once per problem with file, line and key."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from groundwork.errors import GroundworkError

__all__ = ["ConfigError", "ConfigIssue", "IssueKind"]

IssueKind = Literal["parse", "empty", "root_not_object", "unknown_key", "type", "missing", "value"]


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem: where (``source``, ``line``, ``key_path``) and what.

    ``source`` is a file path, an environment variable name (env issues name
    the variable) or a layer name such as ``flags``; ``line`` is 1-based or
    None when unknown; ``key_path`` is dotted with ``[i]`` for list items.
    """

    source: str
    line: int | None
    key_path: str
    expected: str
    got: str
    kind: IssueKind

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        key = f" {self.key_path}:" if self.key_path else ""
        return f"{where}:{key} expected {self.expected}, got {self.got}"


class ConfigError(GroundworkError):
    """Every issue of one load at once; ``str()`` is one line per issue."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues) or "invalid configuration")
