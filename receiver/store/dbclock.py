"""The database's own clock, in SQL: what leases are judged by, so that workers whose clocks disagree cannot take
an invitation another still holds.

``database_now(seconds)`` is the database's current UTC time plus ``seconds``, written the way the UTC columns of
``schema`` store times, so that it compares with them directly:
- SQLite stores a time as text, ``YYYY-MM-DD HH:MM:SS.ffffff`` (SQLAlchemy's format, UTC): ``strftime`` gives the
  same text to the millisecond, padded to six digits, so that the two compare in the right order as text;
- PostgreSQL stores ``timestamp without time zone`` holding UTC: ``now() AT TIME ZONE 'UTC'`` is that type.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, Float, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class database_now(FunctionElement[Any]):  # noqa: N801 - a SQL function, named like one
    """The database's UTC time now plus ``seconds`` (a whole statement sees one value)."""

    type = DateTime()
    name = "database_now"
    inherit_cache = True

    def __init__(self, seconds: float = 0.0):
        super().__init__(literal(float(seconds), Float()))


@compiles(database_now, "sqlite")
def _sqlite(element: database_now, compiler: Any, **kw: Any) -> str:
    seconds = compiler.process(element.clauses, **kw)
    return f"(strftime('%Y-%m-%d %H:%M:%f', 'now', printf('%+.3f seconds', {seconds})) || '000')"


@compiles(database_now, "postgresql")
def _postgresql(element: database_now, compiler: Any, **kw: Any) -> str:
    seconds = compiler.process(element.clauses, **kw)
    return f"((now() AT TIME ZONE 'UTC') + make_interval(secs => CAST({seconds} AS double precision)))"
