"""The company's documents in the portal: its Inbox, Sent and Failed lists, the download of its own files, and the
upload into its Inbox through the same pipeline as inbound e-mail (documents.py: the same rows and files, a UBL kept
with its file), audited under the client user's name. Refused files are named with the reason, nothing written."""
import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileRequired, MultipleFileField

from .. import documents, scoping
from ..extensions import db
from ..models import Client, Document, DocumentStatus, DocumentType
from ..services.storage import DocumentStore
from ..web_input import record_id, size_limit
from . import bp, own, own_company
from .uploads import UploadRefused, accepted_types, checked

PER_PAGE = 20
LISTS = (DocumentStatus.INBOX, DocumentStatus.SENT, DocumentStatus.FAILED)


class UploadForm(FlaskForm):
    files = MultipleFileField(_l("Files"), validators=[FileRequired(_l("Choose at least one file."))])


def documents_page(client: Client, form: UploadForm, status: int = 200):
    """One of the lists (`status` in the query string, Inbox by default), newest first, a page at a time."""
    shown = next((kind for kind in LISTS if kind.value == request.args.get("status")), DocumentStatus.INBOX)
    rows = scoping.portal_rows(Document, current_user)
    counts = dict(db.session.execute(rows.with_only_columns(Document.status, sa.func.count()).group_by(Document.status)).all())
    page = db.paginate(rows.where(Document.status == shown.value).order_by(Document.received_at.desc(), Document.id.desc()),
                       page=record_id(request.args.get("page")) or 1, per_page=PER_PAGE, error_out=False)
    types = accepted_types(current_app.config)
    return render_template("portal/documents.html", client=client, form=form, lists=LISTS, shown=shown, counts=counts,
                           page=page, types=types, accept=",".join(suffix for kind in types for suffix in kind.suffixes),
                           type_labels={kind.value: kind.label for kind in DocumentType}), status


@bp.route("/documents")
@login_required
def documents_list():
    return documents_page(own_company(), UploadForm(formdata=None))


@bp.route("/documents/upload", methods=["POST"])
@size_limit("PORTAL_UPLOAD_MAX_BYTES")
@login_required
def upload_documents():
    client, form = own_company(), UploadForm()
    if not form.validate_on_submit():
        return documents_page(client, form, 400)
    try:
        parts = checked(form.files.data, current_app.config)
    except UploadRefused as refusal:
        form.form_errors.extend([*refusal.problems, _("Nothing was uploaded: send the files again without these.")])
        return documents_page(client, form, refusal.status)
    store = DocumentStore.from_config(current_app.config)
    added = documents.new_documents(store, client.id, documents.pair_ubl(parts), sender=current_user.email)
    try:
        db.session.add_all(added)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        documents.delete_files(store, added)
        raise
    flash(ngettext("%(num)d document is in your Inbox.", "%(num)d documents are in your Inbox.", len(added)), "success")
    return redirect(url_for("portal.documents_list"), 303)


@bp.route("/documents/<int:document_id>/download")
@login_required
def download_document(document_id: int):
    """The file (or its UBL, with ubl=1) of one of the company's documents."""
    return documents.download(own(Document, document_id), ubl=request.args.get("ubl") == "1")


@bp.errorhandler(413)
def upload_too_large(error):
    """A request larger than the upload takes, refused before it is read (web_input.size_limit)."""
    return render_template("portal/upload_too_large.html", max_bytes=current_app.config["PORTAL_UPLOAD_MAX_BYTES"]), 413
