"""What each user keeps for themselves on the client screens (favourites, saved views, chosen columns) and the notes
and visibility switch on the client page. Mixed into ClientView; every endpoint is a POST with CSRF
and reaches the client through the view's scoped get_one."""
from urllib.parse import parse_qsl, urlencode, urlsplit

import sqlalchemy as sa
from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from ..auth import safe_next_url
from ..extensions import db
from ..list_columns import SEPARATOR, UnknownColumn
from ..models import Client, ClientNote, Role, SavedFilter, client_favourites
from ..models.audit import audit_action
from ..web_input import record_id
from .base import per_request

# List arguments a saved view may keep in its query (filters are flt<n>_<name>); its columns are kept on their own.
VIEW_ARGUMENTS = ("search", "sort", "desc", "page_size")
COLUMNS_ARGUMENT = "columns"  # the list shows these columns (a saved view's) instead of the user's own
MAX_NOTE_LENGTH = 5000


def favourite_ids() -> set[int]:
    """The signed-in user's favourite clients, read once per request."""
    return per_request("favourite-ids", lambda: set(db.session.scalars(
        sa.select(client_favourites.c.client_id).where(client_favourites.c.user_id == current_user.id))))


def favourite_star(view, client) -> Markup:
    """The star before a client's name: a one-button form that adds or removes the favourite."""
    on = client.id in favourite_ids()
    label = _("Remove from favourites") if on else _("Add to favourites")
    return Markup(
        '<form method="post" action="{action}" class="d-inline">'
        '<input type="hidden" name="csrf_token" value="{token}"><input type="hidden" name="id" value="{id}">'
        '<input type="hidden" name="next" value="{next}">'
        '<button type="submit" class="btn btn-link p-0 favourite-star" title="{label}" aria-label="{label}" aria-pressed="{pressed}">'
        '<span class="fa fa-star{empty} text-warning" aria-hidden="true"></span></button></form>'
    ).format(action=view.get_url(".favourite_view"), token=generate_csrf(), id=client.id, next=request.full_path,
             label=label, pressed="true" if on else "false", empty="" if on else "-o")


def clean_view_query(query: str) -> str:
    """Keep only list arguments from a query string (a saved view never stores anything else)."""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=False)
             if k in VIEW_ARGUMENTS or (k.startswith("flt") and "_" in k)]
    return urlencode(pairs)


def posted_client_row(view, model):
    """The row of `model` (a client's child: proposal, client user, register change) named by the form's `id`, and
    its client through the view's scoped get_one: 404 for an unknown id or a client outside the user's scope."""
    pk = record_id(request.form.get("id"))
    row = db.session.get(model, pk) if pk is not None else None
    if row is None:
        abort(404)
    return row, view.get_one(row.client_id)


def back_to_client_page(view, client=None, tab=None):
    """Where a client page button lands: the `next` it posted (its tab), if it stays on this site."""
    target = safe_next_url(request.form.get("next"))
    if target:
        return redirect(target)
    url = view.get_url(".details_view", id=client.id) if client is not None else view.get_url(".index_view")
    return redirect(f"{url}#{tab}" if tab else url)


def without_columns(url: str) -> str:
    """A list URL without its saved view's columns: after a choice of columns, the list shows the user's own."""
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != COLUMNS_ARGUMENT])
    return parts.path + (f"?{query}" if query else "")


def moved(order: list[str], move: str) -> list[str]:
    """`order` with one column moved one place (`move`: "up:<name>" or "down:<name>")."""
    direction, _sep, name = move.partition(":")
    if direction not in ("up", "down") or name not in order:
        raise UnknownColumn(name)
    at = order.index(name)
    to = max(at - 1, 0) if direction == "up" else min(at + 1, len(order) - 1)
    order = list(order)
    order[at], order[to] = order[to], order[at]
    return order


class ClientExtrasMixin:
    def favourites_first(self, query):
        """Default order with the user's favourites on top (only when they have favourites)."""
        ids = favourite_ids()
        if not ids:
            return query
        return query.order_by(None).order_by(Client.id.in_(sorted(ids)).desc(), Client.name, Client.id)

    @expose("/favourite/", methods=("POST",))
    def favourite_view(self):
        client = self.get_one(request.form.get("id"))
        membership = sa.and_(client_favourites.c.user_id == current_user.id, client_favourites.c.client_id == client.id)
        if db.session.execute(sa.select(client_favourites.c.client_id).where(membership)).first():
            db.session.execute(sa.delete(client_favourites).where(membership))
        else:
            db.session.execute(sa.insert(client_favourites).values(user_id=current_user.id, client_id=client.id))
        db.session.commit()
        return back_to_client_page(self, client)

    @expose("/hide/", methods=("POST",))
    def hide_view(self):
        if not current_user.has_role(Role.ADMIN):
            abort(403)
        client = self.get_one(request.form.get("id"))
        hide = request.form.get("hidden") == "1"
        with audit_action("hide" if hide else "unhide"):
            client.hidden = hide
            db.session.commit()
        flash(_("%(name)s is now hidden from staff and supervisors.", name=client.name) if hide
              else _("%(name)s is visible again to its group.", name=client.name), "success")
        return back_to_client_page(self, client, "overview")

    @expose("/note/", methods=("POST",))
    def note_view(self):
        client = self.get_one(request.form.get("id"))
        text = (request.form.get("text") or "").strip()
        if not text:
            flash(_("The note is empty."), "error")
        elif len(text) > MAX_NOTE_LENGTH:
            flash(_("A note can be at most %(num)d characters.", num=MAX_NOTE_LENGTH), "error")
        else:
            db.session.add(ClientNote(client=client, author_id=current_user.id, text=text))
            db.session.commit()
            flash(_("Note added."), "success")
        return back_to_client_page(self, client, "activity")

    # Columns, per user
    def shown_columns(self, args=None) -> list[tuple[str, str]]:
        """(name, label) of the columns the list shows: a saved view's (the `columns` argument of `args`, by default
        the request's), else the user's own choice, else the default."""
        args = request.args if args is None else args
        return per_request(f"shown-columns:{args.get(COLUMNS_ARGUMENT)}", lambda: self._shown_columns(args))

    def _shown_columns(self, args) -> list[tuple[str, str]]:
        names = None
        if args.get(COLUMNS_ARGUMENT):
            try:
                names = self.list_columns.parse(args[COLUMNS_ARGUMENT])
            except UnknownColumn as error:
                flash(str(error), "error")
        labels = dict(self._list_columns)
        return [(name, labels[name]) for name in names or self.list_columns.of(current_user)]

    def column_index(self, name: str) -> int:
        """A column's place among all the list's columns: what `sort=` says, whichever columns are shown."""
        return [column for column, _label in self._list_columns].index(name)

    @expose("/columns/", methods=("GET", "POST"))
    def columns_view(self):
        """Choose the list's columns: shown or not, in which order (up and down buttons, each a submit button, so
        that they work without a script), or back to the default."""
        came_from = safe_next_url(request.values.get("url")) or self.get_url(".index_view")
        back = without_columns(came_from)
        columns = self.list_columns
        if request.method == "GET":  # as the list shows them now (a saved view's columns, if it was one)
            shown = [name for name, _label in self.shown_columns(dict(parse_qsl(urlsplit(came_from).query)))]
            return self._columns_page(shown + [name for name in columns.available if name not in shown], shown, back)
        if "reset" in request.form:
            columns.reset(current_user)
            db.session.commit()
            flash(_("The list shows its default columns again."), "success")
            return redirect(back)
        try:
            order = columns.check(request.form.getlist("order"))
            shown = columns.check(request.form.getlist("shown"))
            order += [name for name in columns.available if name not in order]
            if request.form.get("move"):
                return self._columns_page(moved(order, request.form["move"]), shown, back, focus=request.form["move"])
            columns.save(current_user, [name for name in order if name in shown])
        except UnknownColumn as error:
            flash(str(error), "error")
            return redirect(self.get_url(".columns_view", url=back))
        db.session.commit()
        flash(_("Columns saved."), "success")
        return redirect(back)

    def _columns_page(self, order, shown, back, focus=None):
        labels = dict(self._list_columns)
        rows = [(name, labels[name], name in shown, name in self.list_columns.required) for name in order]
        return self.render("admin/client_columns.html", rows=rows, focus=focus, return_url=back)

    # Saved views of the list, per user
    def saved_views(self) -> list[SavedFilter]:
        return db.session.scalars(sa.select(SavedFilter).where(
            SavedFilter.user_id == current_user.id, SavedFilter.endpoint == self.endpoint).order_by(SavedFilter.name)).all()

    def saved_view_url(self, saved: SavedFilter) -> str:
        """Where a saved view opens: its query, and its columns if it was saved with them."""
        query = f"{saved.query}&{urlencode({COLUMNS_ARGUMENT: saved.columns})}" if saved.columns else saved.query
        return self.get_url(".index_view") + (f"?{query.lstrip('&')}" if query else "")

    @expose("/views/save/", methods=("POST",))
    def save_view_view(self):
        name = (request.form.get("name") or "").strip()[:80]
        posted = request.form.get("query", "")
        query = clean_view_query(posted)
        try:  # the columns the list showed: the view's it came from, else the user's own
            chosen = dict(parse_qsl(posted)).get(COLUMNS_ARGUMENT)
            columns = SEPARATOR.join(self.list_columns.parse(chosen) if chosen else self.list_columns.of(current_user))
        except UnknownColumn as error:
            flash(str(error), "error")
            return redirect(self.get_url(".index_view"))
        if not name:
            flash(_("Give the view a name."), "error")
            return redirect(self.get_url(".index_view") + (f"?{query}" if query else ""))
        if len(query) > SavedFilter.query.type.length:
            flash(_("This view has too many filters to be saved."), "error")
            return redirect(self.get_url(".index_view"))
        saved = db.session.scalar(sa.select(SavedFilter).where(
            SavedFilter.user_id == current_user.id, SavedFilter.endpoint == self.endpoint, SavedFilter.name == name))
        if saved is None:
            saved = SavedFilter(user_id=current_user.id, endpoint=self.endpoint, name=name, query=query, columns=columns)
            db.session.add(saved)
        else:
            saved.query, saved.columns = query, columns
        db.session.commit()
        flash(_("View “%(name)s” saved.", name=name), "success")
        return redirect(self.saved_view_url(saved))

    @expose("/views/delete/", methods=("POST",))
    def delete_view_view(self):
        deleted = db.session.execute(sa.delete(SavedFilter).where(
            SavedFilter.id == record_id(request.form.get("id")), SavedFilter.user_id == current_user.id)).rowcount
        db.session.commit()
        if not deleted:
            abort(404)
        flash(_("View deleted."), "success")
        return redirect(self.get_url(".index_view"))
