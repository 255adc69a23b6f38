"""Which columns a user sees on a list, in which order: their own choice (a ListColumns row), the one a saved view
was saved with, or the list's default. Names from a form or a URL are checked against the list's columns; the
list's required columns are always shown."""
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from .errors import Refused
from .extensions import db
from .models import ListColumns

SEPARATOR = ","


class UnknownColumn(Refused):
    def __init__(self, name: str):
        super().__init__(_("There is no column “%(name)s” on this list: nothing was changed.", name=name[:80]))


@dataclass(frozen=True)
class Columns:
    """A list's columns: every one that may be shown (`available`, in its default order), those shown when the user
    chose nothing (`default`), and those that cannot be hidden (`required`)."""
    endpoint: str
    available: tuple[str, ...]
    default: tuple[str, ...]
    required: tuple[str, ...]

    def check(self, names) -> list[str]:
        """`names` (a form's or a URL's, in order) as the columns to show: the required ones added (at the start)
        when missing; UnknownColumn for a name that is not one of the list's, or given twice."""
        seen = []
        for name in names:
            if name not in self.available or name in seen:
                raise UnknownColumn(name)
            seen.append(name)
        return [name for name in self.required if name not in seen] + seen

    def parse(self, text: str) -> list[str]:
        """A comma-separated list of names (a URL's), checked."""
        return self.check([name.strip() for name in text.split(SEPARATOR) if name.strip()])

    def stored(self, text: str | None) -> list[str] | None:
        """What a stored row says, without the names the list no longer has; None when it says nothing."""
        if not text:
            return None
        return self.check(dict.fromkeys(name for name in text.split(SEPARATOR) if name in self.available))

    def of(self, user) -> list[str]:
        """The user's own choice, else the default."""
        text = db.session.scalar(sa.select(ListColumns.columns).where(
            ListColumns.user_id == user.id, ListColumns.endpoint == self.endpoint))
        return self.stored(text) or list(self.default)

    def save(self, user, names: list[str]) -> None:
        """Keep `names` (checked) as the user's choice; the caller commits."""
        text = SEPARATOR.join(self.check(names))
        row = db.session.scalar(sa.select(ListColumns).where(
            ListColumns.user_id == user.id, ListColumns.endpoint == self.endpoint))
        if row is None:
            db.session.add(ListColumns(user_id=user.id, endpoint=self.endpoint, columns=text))
        else:
            row.columns = text

    def reset(self, user) -> None:
        """Back to the default; the caller commits."""
        db.session.execute(sa.delete(ListColumns).where(
            ListColumns.user_id == user.id, ListColumns.endpoint == self.endpoint))
