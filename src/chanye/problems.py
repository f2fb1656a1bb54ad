"""What is wrong with a request, said in Chinese and English, and the error that refuses it.

Every domain refuses bad input the same way: a ``RefusedError`` carries one or more ``Problem``
(where: a form field, or a file and a key path inside it; what: ``zh`` for pages, ``en`` beside it
for logs and the command line). Pages show ``zh`` beside the field named; the CLI prints both.
This module imports nothing of chanye, so every layer may use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Self, TypeVar


@dataclass(frozen=True)
class Problem:
    """One thing wrong: ``field`` is the form field or key path ("" for the whole), ``file`` the
    file it was found in ("" when none)."""

    field: str
    zh: str
    en: str
    file: str = ""

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.field) if part)
        return f"{where}: {self.zh} / {self.en}" if where else f"{self.zh} / {self.en}"


class RefusedError(Exception):
    """A change or request the rules refuse; ``problems`` says every reason."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))

    @classmethod
    def because(cls, field: str, zh: str, en: str) -> Self:
        """Refused for one reason."""
        return cls([Problem(field, zh, en)])

    @property
    def zh(self) -> str:
        return "；".join(p.zh for p in self.problems)

    @property
    def en(self) -> str:
        return "; ".join(p.en for p in self.problems)


class ReasonRefusedError(RefusedError):
    """A step refused for one reason that names no field (``zh`` and ``en``)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__([Problem("", zh, en)])


FileProblem = TypeVar("FileProblem")


class FileRefusedError(Exception, Generic[FileProblem]):
    """A file that cannot be used (a system file, a policy file); ``problems`` lists everything
    wrong with it, each naming where, one per line."""

    def __init__(self, problems: Sequence[FileProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
