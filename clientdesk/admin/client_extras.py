"""What each user keeps for themselves on the client screens (favourites, saved views) and the notes
and visibility switch on the client page. Mixed into ClientView; every endpoint is a POST with CSRF
and reaches the client through the view's scoped get_one."""
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa
from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from ..auth import safe_next_url
from ..extensions import db
from ..models import Client, ClientNote, Role, SavedFilter, client_favourites
from ..models.audit import audit_action
from ..web_input import record_id
from .base import per_request

# List arguments a saved view may keep (filters are flt<n>_<name>).
VIEW_ARGUMENTS = ("search", "sort", "desc", "page_size")
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


def back_to_client_page(view, client=None, tab=None):
    """Where a client page button lands: the `next` it posted (its tab), if it stays on this site."""
    target = safe_next_url(request.form.get("next"))
    if target:
        return redirect(target)
    url = view.get_url(".details_view", id=client.id) if client is not None else view.get_url(".index_view")
    return redirect(f"{url}#{tab}" if tab else url)


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

    # Saved views of the list, per user
    def saved_views(self) -> list[SavedFilter]:
        return db.session.scalars(sa.select(SavedFilter).where(
            SavedFilter.user_id == current_user.id, SavedFilter.endpoint == self.endpoint).order_by(SavedFilter.name)).all()

    @expose("/views/save/", methods=("POST",))
    def save_view_view(self):
        name = (request.form.get("name") or "").strip()[:80]
        query = clean_view_query(request.form.get("query", ""))
        if not name:
            flash(_("Give the view a name."), "error")
            return redirect(self.get_url(".index_view") + (f"?{query}" if query else ""))
        if len(query) > SavedFilter.query.type.length:
            flash(_("This view has too many filters to be saved."), "error")
            return redirect(self.get_url(".index_view"))
        saved = db.session.scalar(sa.select(SavedFilter).where(
            SavedFilter.user_id == current_user.id, SavedFilter.endpoint == self.endpoint, SavedFilter.name == name))
        if saved is None:
            db.session.add(SavedFilter(user_id=current_user.id, endpoint=self.endpoint, name=name, query=query))
        else:
            saved.query = query
        db.session.commit()
        flash(_("View “%(name)s” saved.", name=name), "success")
        return redirect(self.get_url(".index_view") + (f"?{query}" if query else ""))

    @expose("/views/delete/", methods=("POST",))
    def delete_view_view(self):
        deleted = db.session.execute(sa.delete(SavedFilter).where(
            SavedFilter.id == record_id(request.form.get("id")), SavedFilter.user_id == current_user.id)).rowcount
        db.session.commit()
        if not deleted:
            abort(404)
        flash(_("View deleted."), "success")
        return redirect(self.get_url(".index_view"))
