"""Error types. Every user-facing failure is one line naming file, column and row."""

from __future__ import annotations

from pathlib import Path


class DivergenceError(Exception):
    """Base class for errors reported to users as a single line (exit code 2)."""

    exit_code = 2


class SourceError(DivergenceError):
    """A raw or user-supplied input file is malformed.

    Parameters
    ----------
    path : str or Path
        The offending file.
    problem : str
        What is wrong, in a few words.
    column : str, optional
        The offending column or JSON key.
    row : int or str, optional
        The offending row (1-based data row) or record key.
    """

    def __init__(
        self,
        path: str | Path,
        problem: str,
        column: str | None = None,
        row: int | str | None = None,
    ) -> None:
        self.path = str(path)
        self.problem = problem
        self.column = column
        self.row = row
        where = [self.path]
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        super().__init__(f"{': '.join([', '.join(where), problem])}")


class UnknownModelError(DivergenceError):
    """A model id or alias could not be resolved."""


class ConfigError(DivergenceError):
    """An experiment or feature-set config is invalid."""


class InputError(DivergenceError):
    """A bad value in a predictor input table, at a column and a 1-based data row.

    Parameters
    ----------
    column : str
        The offending column.
    row : int
        1-based position of the row in the table given to the predictor.
    problem : str
        What is wrong, in a few words.
    """

    def __init__(self, column: str, row: int, problem: str) -> None:
        self.column = column
        self.row = row
        self.problem = problem
        super().__init__(f"input column {column!r} row {row}: {problem}")


class NotPromotedWarning(UserWarning):
    """The default predictor is a registered version that did not pass the promotion gate."""
