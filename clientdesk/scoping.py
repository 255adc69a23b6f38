"""Who sees which clients: the one rule every screen, export, action, lookup and job builds on.

admin: every client; supervisor: every client that is not hidden; staff: the clients of their groups
that are not hidden. Rows that belong to a client (contacts, documents, ...) follow their client.

In the portal, a client user sees their own company, while it is active, and what belongs to it (portal_rows).
"""
import sqlalchemy as sa

from .models import Client, ClientStatus, Group, Role, User


def client_condition(user):
    """A condition on Client for what `user` may see; None means everything."""
    if user is None or not user.is_authenticated:
        return sa.false()
    if user.is_admin:
        return None
    condition = Client.hidden.is_(False)
    if user.role == Role.STAFF:
        condition = sa.and_(condition, Client.group_id.in_(user.group_ids or [-1]))
    return condition


def scope_clients(query, user):
    condition = client_condition(user)
    return query if condition is None else query.filter(condition)


def visible_client_ids(client_ids, user) -> set[int]:
    """Which of these clients `user` may see (those that still exist)."""
    from .extensions import db

    ids = list(client_ids)
    if not ids:
        return set()
    return set(db.session.scalars(scope_clients(sa.select(Client.id).where(Client.id.in_(ids)), user)))


def scope_client_children(query, client_relationship, user):
    """Scope rows that hang off a client (`client_relationship` e.g. Contact.client), with EXISTS, not a join."""
    condition = client_condition(user)
    return query if condition is None else query.filter(client_relationship.has(condition))


def task_condition(user):
    """A condition on Task: the tasks a user started, or that concern a client they see; None for admins."""
    from .models import Task

    if user.is_admin:
        return None
    return sa.or_(Task.user_id == user.id, Task.client.has(client_condition(user)))


def assignable_groups(user):
    """Groups a user may put a client into: their own groups, or any group for supervisors and admins."""
    query = sa.select(Group).order_by(Group.name)
    if user.role == Role.STAFF:
        query = query.where(Group.id.in_(user.group_ids or [-1]))
    return query


def staff_users(keep=()):
    """The staff users one may choose: the active ones, and those of `keep` (ids: a record's own) whatever their state."""
    condition = User.active.is_(True)
    if keep:
        condition = sa.or_(condition, User.id.in_(list(keep)))
    return sa.select(User).where(condition).order_by(User.full_name, User.email)


def portal_client_condition(client_user):
    """A condition on Client for the portal: the client user's own company, while it is active."""
    return sa.and_(Client.id == client_user.client_id, Client.status == ClientStatus.ACTIVE.value)


def portal_rows(model, client_user):
    """The one base query of every portal page: the rows of `model` that `client_user` may see, their company
    (`model` Client) or rows that belong to it (a model with a `client` relationship)."""
    condition = portal_client_condition(client_user)
    if model is Client:
        return sa.select(Client).where(condition)
    return sa.select(model).where(model.client.has(condition))
