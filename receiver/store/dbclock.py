"""The database's own clock, in SQL: what leases are judged by, so that workers whose clocks disagree cannot take
an invitation another still holds.

``database_now(seconds)`` is the database's current UTC time plus ``seconds`` (``later_of_now(when)`` the later of
it and ``when``), written the way the UTC columns of ``schema`` store times, so that it compares with them
directly:
- SQLite stores a time as text, ``YYYY-MM-DD HH:MM:SS.ffffff`` (SQLAlchemy's format, UTC): ``strftime`` gives the
  same text to the millisecond, padded to six digits, so that the two compare in the right order as text;
- PostgreSQL stores ``timestamp without time zone`` holding UTC: ``now() AT TIME ZONE 'UTC'`` is that type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from .schema import UTCDateTime


class database_now(FunctionElement[Any]):  # noqa: N801 - a SQL function, named like one
    """The database's UTC time now plus ``seconds`` (a whole statement sees one value)."""

    type = DateTime()
    name = "database_now"
    inherit_cache = True

    def __init__(self, seconds: float = 0.0):
        super().__init__(literal(float(seconds), Float()))


class later_of_now(FunctionElement[Any]):  # noqa: N801 - a SQL function, named like one
    """The later of ``when`` (a caller's time) and the database's now: a bound that lets the due index be read as a
    range when rows are due by either clock."""

    type = DateTime()
    name = "later_of_now"
    inherit_cache = True

    def __init__(self, when: datetime):
        super().__init__(literal(when, UTCDateTime()))


def _sqlite_now(seconds: str) -> str:
    return f"(strftime('%Y-%m-%d %H:%M:%f', 'now', printf('%+.3f seconds', {seconds})) || '000')"


def _postgresql_now(seconds: str) -> str:
    return f"((now() AT TIME ZONE 'UTC') + make_interval(secs => CAST({seconds} AS double precision)))"


@compiles(database_now, "sqlite")
def _sqlite(element: database_now, compiler: Any, **kw: Any) -> str:
    return _sqlite_now(compiler.process(element.clauses, **kw))


@compiles(database_now, "postgresql")
def _postgresql(element: database_now, compiler: Any, **kw: Any) -> str:
    return _postgresql_now(compiler.process(element.clauses, **kw))


@compiles(later_of_now, "sqlite")
def _sqlite_later(element: later_of_now, compiler: Any, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)}, {_sqlite_now('0')})"  # text in the same form: in order


@compiles(later_of_now, "postgresql")
def _postgresql_later(element: later_of_now, compiler: Any, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)}, now() AT TIME ZONE 'UTC')"
