"""The one place for "at most once per X and day mark": a row per thing and mark, inserted under a unique key before its
e-mail leaves; a run at the same time (a second scheduler, a rerun) inserts nothing for it and so sends nothing."""
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db


def claim(model, key: list[str], rows: list[dict]) -> list[int]:
    """Insert `rows` of `model`, whose unique key is the columns `key`; the ids of those inserted (a row whose key is
    taken is left out)."""
    if not rows:
        return []
    insert = (postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert)(model)
    return list(db.session.scalars(insert.on_conflict_do_nothing(index_elements=key).returning(model.id), rows))
