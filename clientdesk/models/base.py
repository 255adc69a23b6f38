"""Shared column helpers."""
from datetime import UTC, date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ..extensions import db

FIRM_TIMEZONE = ZoneInfo("Europe/Brussels")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def today() -> date:
    """Today where the firm works (Brussels, as BABEL_DEFAULT_TIMEZONE): trial ends, "expires today" and the
    dashboard's windows count in its calendar days, not in UTC's (a day ahead between midnight and 01:00 or 02:00)."""
    return datetime.now(FIRM_TIMEZONE).date()


def choice_check(column: str, choices: type[StrEnum], nullable: bool = False) -> sa.CheckConstraint:
    """A CHECK constraint that keeps a string column within an enum's values (SQLite and PostgreSQL). Its `info`
    names the column and the enum, for the screens that show a stored code as its label (admin/changes.py)."""
    values = ", ".join(f"'{c.value}'" for c in choices)
    condition = f"{column} IN ({values})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return sa.CheckConstraint(condition, name=f"{column}_valid", info={"column": column, "choices": choices})


def choices_of(enum: type[StrEnum]) -> list[tuple[str, str]]:
    return [(c.value, c.label) for c in enum]


class LabelledEnum(StrEnum):
    """A string enum whose members carry a human label: `Member = "code", _l("Label")`.

    The code is what is stored and exchanged (exports, URLs); the label, a lazy translation, is what
    people read, in their language wherever it is shown.
    """

    def __new__(cls, value: str, label=None):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = value if label is None else label
        return member


class Timestamps:
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
