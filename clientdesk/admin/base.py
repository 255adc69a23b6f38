"""The base of every admin screen: who may open it, and which rows it may touch.

`ProtectedView` checks the role for every exposed endpoint. `ScopedModelView` sends every path that
reads rows (list, count, details, edit, delete, export, actions, AJAX lookups, submitted select
values) through `scope()`, which applies `scoping.client_condition`; an id outside the scope
answers 404.
"""
import re
from datetime import date, datetime

import sqlalchemy as sa
from flask import abort, flash, g, redirect, request, url_for
from flask_admin import BaseView
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.contrib.sqla.filters import FilterEqual, IntEqualFilter
from flask_admin.model import typefmt
from flask_admin.model.template import BaseListRowAction, DeleteRowAction, EditRowAction, ViewRowAction
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from jinja2 import pass_context
from markupsafe import Markup, escape
from sqlalchemy import func
from wtforms.validators import ValidationError

from .. import invitations, scoping
from ..errors import Refused
from ..extensions import db
from ..i18n import localdate, localdatetime
from ..models import Client, Role
from ..search import client_search_condition
from ..web_input import record_id
from .client_filters import not_deactivated_condition

AJAX_LIMIT = 20
MAX_PAGE = 1_000_000  # far past the last page of any list; a larger page number answers 404, like a negative one
EMPTY = "—"  # what a details page shows for a field with no value


class ProtectedView(BaseView):
    """Any admin view: signed-in users with at least `required_role`; others get the login page or 403."""

    required_role = Role.STAFF

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and current_user.has_role(self.required_role)

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(403)


class DynamicOptionsFilter(FilterEqual):
    """An equality filter whose dropdown is built per request (e.g. only the groups a user sees)."""

    def __init__(self, column, name, options_factory, **kwargs):
        super().__init__(column, name, **kwargs)
        self.options_factory = options_factory

    def current_options(self):
        return [(str(value), str(label)) for value, label in self.options_factory()]

    def clean(self, value):
        pk = record_id(value)
        return -1 if pk is None else pk  # matches nothing; an unknown value is not an error page


class IdEqualFilter(IntEqualFilter):
    """Rows that belong to one id (e.g. a client's); a value that is no id is refused like any invalid filter value
    (flashed and ignored), before it reaches the database."""

    def clean(self, value):
        pk = record_id(value)
        if pk is None:
            raise ValueError(value)
        return pk


def per_request(key, build):
    """What every row of a list may repeat (a translated badge, the user's favourites), built once per request."""
    values = g.setdefault("per_request", {})
    if key not in values:
        values[key] = build()
    return values[key]


class LinkRowAction(BaseListRowAction):
    """A row's view or edit icon, as Flask-Admin draws it, without its two macro calls per icon and row."""

    def __init__(self, endpoint: str, icon_class: str, title: str):
        super().__init__(title)
        self.endpoint = endpoint
        self.icon_class = icon_class

    def render(self, context, row_id, row):
        url = url_for(self.endpoint, id=row_id, url=context.resolve("return_url"))
        return Markup(
            f'<a class="icon" href="{escape(url)}" title="{escape(self.title)}"><span class="{self.icon_class}"></span></a>'
        )


class DeleteRowButton(BaseListRowAction):
    """A row's delete button, as Flask-Admin draws it, with its confirmation in data-confirm (static/clientdesk.js)
    instead of an onclick handler, which the Content Security Policy refuses."""

    def render(self, context, row_id, row):
        form, flask_admin_text = context.resolve("delete_form"), context.resolve("_gettext")  # Flask-Admin's own catalog
        return Markup(
            '<form class="icon" method="POST" action="{action}">{id}{url}<input type="hidden" name="csrf_token" value="{token}">'
            '<button type="submit" data-confirm="{confirm}" title="{title}"><span class="fa fa-trash glyphicon glyphicon-trash">'
            '</span></button></form>'
        ).format(action=url_for(".delete_view"), id=form.id(value=row_id), url=form.url(value=context.resolve("return_url")),
                 token=generate_csrf(), confirm=flask_admin_text("Are you sure you want to delete this record?"),
                 title=flask_admin_text("Delete Record"))


def _yes_no_icon(view, value, name):
    answer = _("Yes") if value else _("No")
    title = f"{view.get_column_name(name)}: {answer}"
    return Markup('<span class="fa {}" title="{}"></span>').format("fa-check-circle" if value else "fa-minus-circle", title)


# Values of a type, shown in the interface's language: dates and times the Belgian way, yes/no in words.
LOCAL_TYPES = {
    datetime: lambda view, value, name: localdatetime(value),  # before date: a datetime is a date
    date: lambda view, value, name: localdate(value),
}
LIST_TYPE_FORMATTERS = {**typefmt.BASE_FORMATTERS, bool: _yes_no_icon, **LOCAL_TYPES}
DETAIL_TYPE_FORMATTERS = {**typefmt.DETAIL_FORMATTERS, bool: lambda view, value, name: _("Yes") if value else _("No"),
                          **LOCAL_TYPES}

ROW_LINKS = {
    ViewRowAction: (".details_view", "fa fa-eye glyphicon glyphicon-eye-open"),
    EditRowAction: (".edit_view", "fa fa-pencil glyphicon glyphicon-pencil"),
}


class ScopedModelView(ProtectedView, ModelView):
    """A model view over clients, or over rows that belong to a client (`client_relationship`)."""

    client_relationship = None  # the name of the row's relationship to its client, e.g. "client"
    create_role = Role.STAFF
    edit_role = Role.STAFF
    delete_role = Role.ADMIN
    export_role = None  # no export unless a view says so

    # Labels of the columns many models have (a view's own column_labels win).
    common_column_labels = {"created_at": _l("Created on"), "updated_at": _l("Last changed")}

    page_size = 25
    can_view_details = True
    named_filter_urls = True
    column_display_actions = True
    column_type_formatters = LIST_TYPE_FORMATTERS
    column_type_formatters_detail = DETAIL_TYPE_FORMATTERS

    def __init__(self, model, **kwargs):
        self.column_labels = {**self.common_column_labels, **(self.column_labels or {})}
        super().__init__(model, db, **kwargs)

    # Permissions, per request
    def _allowed(self, role) -> bool:
        return role is not None and current_user.is_authenticated and current_user.has_role(role)

    @property
    def can_create(self):
        return self._allowed(self.create_role)

    @property
    def can_edit(self):
        return self._allowed(self.edit_role)

    @property
    def can_delete(self):
        return self._allowed(self.delete_role)

    @property
    def can_export(self):
        return self._allowed(self.export_role)

    # Details pages: every empty value is shown as a dash; a view may leave rows out (details_rows).
    @pass_context
    def get_detail_value(self, context, model, name):
        value = super().get_detail_value(context, model, name)
        return EMPTY if value is None or value == "" else value

    def details_rows(self, model, columns: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The (column, label) rows of `model`'s details page."""
        return columns

    def render(self, template, **kwargs):
        if "details_columns" in kwargs and "model" in kwargs:
            kwargs["details_columns"] = self.details_rows(kwargs["model"], kwargs["details_columns"])
        return super().render(template, **kwargs)

    def get_list_row_actions(self):
        return [
            LinkRowAction(*ROW_LINKS[type(action)], action.title) if type(action) in ROW_LINKS
            else DeleteRowButton(action.title) if type(action) is DeleteRowAction
            else action
            for action in super().get_list_row_actions()
        ]

    # Scoping: the one hook
    def scope(self, query):
        if self.model is Client:
            return scoping.scope_clients(query, current_user)
        if self.client_relationship is not None:
            return scoping.scope_client_children(query, getattr(self.model, self.client_relationship), current_user)
        if self.required_role == Role.ADMIN:
            return query  # an admin-only screen: admins see every row
        raise TypeError(f"{type(self).__name__} must say how its rows are scoped (client_relationship or scope())")

    def edit_form(self, obj=None):
        """A row that belongs to a client stays with it: it is added to the other client instead of moved."""
        form = super().edit_form(obj)
        if self.client_relationship is not None and hasattr(form, self.client_relationship):
            delattr(form, self.client_relationship)
        return form

    def get_query(self):
        return self.scope(super().get_query())

    def _apply_sorting(self, query, joins, sort_column, sort_desc):
        query, joins = super()._apply_sorting(query, joins, sort_column, sort_desc)
        return (query if sort_column is None else self.ties_in_id_order(query, sort_desc)), joins

    def ties_in_id_order(self, query, desc: bool):
        """Rows that tie on the sorted column (same date, same status, ...) in a stable order, so that paging
        never repeats or skips a row."""
        key = sa.inspect(self.model).primary_key[0]
        return query.order_by(key.desc() if desc else key)

    def get_count_query(self):
        # count(*), not count(id) or Flask-Admin's count('*') (sent as count(?)): only count(*) lets the
        # database count from the smallest covering index (SQLite: without reading rows at all when unscoped).
        return self.scope(db.session.query(func.count()).select_from(self.model))

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        if page is not None and not 0 <= page <= MAX_PAGE:
            abort(404)
        return super().get_list(page, sort_column, sort_desc, search, filters, execute=execute, page_size=page_size)

    one_options = ()  # loader options for the one record of a page, a form or an action (e.g. joinedload)

    def get_one(self, id):
        pk = record_id(id)
        if pk is None:
            abort(404)
        obj = self.get_query().options(*self.one_options).filter(self.model.id == pk).one_or_none()
        if obj is None:
            abort(404)
        return obj

    @action("delete", _l("Delete"), _l("Delete the selected records?"))
    def action_delete(self, ids):
        """Flask-Admin's bulk delete compares ids as strings (which PostgreSQL refuses); this one goes through
        scoped_rows and delete_model, so each row gets the view's checks."""
        deleted = sum(1 for row in self.scoped_rows(ids) if self.delete_model(row))
        flash(ngettext("%(num)d record deleted.", "%(num)d records deleted.", deleted), "success" if deleted else "warning")

    def _selected(self, ids):
        """A condition on the selected ids; the ids (integers, malformed ones dropped) are written into the
        statement: thousands of bound parameters are slow for PostgreSQL to parse, and SQLite caps them."""
        pks = [pk for pk in map(record_id, ids) if pk is not None]
        return self.model.id.in_(sa.bindparam("selected", pks, expanding=True, literal_execute=True)) if pks else None

    def scoped_ids(self, ids) -> list[int]:
        """The selected ids of a list action that the user may touch (others are silently dropped)."""
        selected = self._selected(ids)
        return [] if selected is None else [pk for (pk,) in self.get_query().with_entities(self.model.id).filter(selected)]

    def scoped_rows(self, ids):
        """The selected rows of a list action that the user may touch (others are silently dropped)."""
        selected = self._selected(ids)
        return [] if selected is None else self.get_query().filter(selected).all()

    def get_filter_arg(self, index, flt):
        """Filter URLs built from the English name, so links and bookmarks work in every language."""
        name = getattr(flt.name, "_args", (flt.name,))[0]
        operation = flt.operation()
        operation = getattr(operation, "_args", (operation,))[0]
        return re.sub(r"\s+", "_", re.sub(r"[^\w\s]", "", f"{name} {operation}".lower()).strip())

    def _get_filter_groups(self):
        groups = super()._get_filter_groups()
        for items in (groups or {}).values():
            for item in items:
                flt = self._filters[item["index"]]
                if isinstance(flt, DynamicOptionsFilter):
                    item["options"] = flt.current_options()
        return groups

    def on_model_change(self, form, model, is_created):
        """Defence in depth: a row may only be saved onto a client the user sees."""
        client = model if isinstance(model, Client) else getattr(model, "client", None)
        if client is not None and client.id is not None:
            with db.session.no_autoflush:  # a read of ids: the form's pending changes are the subclass's to settle
                visible = scoping.scope_clients(db.session.query(Client.id), current_user).filter(Client.id == client.id).first()
            if visible is None:
                raise Refused(_("That client does not exist or is outside your groups."))

    def after_model_change(self, form, model, is_created):
        announce_voided_invitations()

    def after_model_delete(self, model):
        announce_voided_invitations()

    def handle_view_exception(self, exc):
        if isinstance(exc, Refused):
            flash(str(exc), "error")
            return True
        return super().handle_view_exception(exc)


def shown_client(client_id: int | None) -> Markup:
    """A client named on a row that is not the client's own (a task, an audit event): its current name linked to
    its page when the signed-in user may see it, else only that it is outside their scope (no name, no link)."""
    if client_id is None:
        return Markup("")
    visible = per_request("visible-clients", dict)
    if client_id not in visible:
        visible[client_id] = bool(scoping.visible_client_ids([client_id], current_user))
    if not visible[client_id]:
        return Markup('<span class="text-muted">{}</span>').format(_("a client outside your scope"))
    return Markup('<a href="{}">{}</a>').format(url_for("client.details_view", id=client_id), db.session.get(Client, client_id))


def announce_voided_invitations() -> None:
    """Say which invitation links a change of their contact has just voided (invitations.py), each with the
    button that sends the client a new one."""
    voided = invitations.voided_since_last_asked()
    if not voided:
        return
    names = dict(db.session.execute(sa.select(Client.id, Client.name).where(Client.id.in_({i for i, _a in voided}))).all())
    for client_id, address in voided:
        flash(Markup(
            '{message} <form method="post" action="{action}" class="d-inline">'
            '<input type="hidden" name="csrf_token" value="{token}"><input type="hidden" name="id" value="{id}">'
            '<input type="hidden" name="action" value="resend">'
            '<button type="submit" class="btn btn-sm btn-warning ml-2">{label}</button></form>'
        ).format(message=_("The invitation link e-mailed to %(email)s for %(name)s no longer works: its contact changed.",
                           email=address, name=names[client_id]),
                 action=url_for("client.lifecycle_view"), token=generate_csrf(), id=client_id, label=_("Resend invitation")),
              "warning")


class ScopedClientLoader(QueryAjaxModelLoader):
    """AJAX client picker: only clients the user sees, searched through the client search index. It offers no
    deactivated client, but keeps one already chosen (get_one): a deactivated client's rows stay editable."""

    def __init__(self, name, **options):
        super().__init__(name, db, Client, fields=["name"], **options)

    def get_query(self):
        return scoping.scope_clients(db.session.query(Client), current_user)

    def get_one(self, pk):
        pk = record_id(pk)
        return None if pk is None else self.get_query().filter(Client.id == pk).one_or_none()

    def get_list(self, term, offset=0, limit=AJAX_LIMIT):
        limit = max(1, min(limit or AJAX_LIMIT, AJAX_LIMIT))
        query = self.get_query().filter(client_search_condition(term or "", db.engine.dialect.name),
                                        not_deactivated_condition())
        return query.order_by(Client.name).offset(max(0, offset or 0)).limit(limit).all()


def chosen_in_scope(form, field):
    """For a ScopedClientLoader's field: a posted client the loader does not find (outside the user's groups, or
    gone) is refused with a message, where the field alone would quietly save no client at all."""
    posted = (field.raw_data or [""])[0]
    if posted not in ("", "__None") and field.data is None:
        raise ValidationError(_("That client does not exist or is outside your groups."))


def assignable_groups_query():
    from ..models import Group

    return db.session.query(Group).filter(Group.id.in_(scoping.assignable_groups(current_user).with_only_columns(Group.id)))
