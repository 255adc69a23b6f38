"""Accounting documents of the clients a user sees: the list (Inbox / Sent / Failed), sending to the
accountant (selected rows, or a client's whole inbox), and the download and preview of the stored file."""
from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user
from markupsafe import Markup

from .. import documents, tasks
from ..i18n import localdatetime, localnumber
from ..jobs.documents import retry_now, run_send_documents
from ..models import Document, DocumentStatus, DocumentType, Role, SenderVerdict
from ..models.base import choices_of
from .base import IdEqualFilter, ScopedModelView
from .client_filters import NotDoneFilter, delivery_not_done_condition

STATUS_BADGES = {DocumentStatus.INBOX: "info", DocumentStatus.SENT: "success", DocumentStatus.FAILED: "danger"}
VERDICT_BADGES = {SenderVerdict.AUTHENTICATED: "success", SenderVerdict.UNAUTHENTICATED: "warning"}


def _filename(view, context, document, name):
    link = Markup('<a href="{}">{}</a>').format(view.get_url(".download_view", id=document.id), document.filename)
    if document.ubl_storage_path:
        link += Markup(' <a class="badge badge-light" href="{}">UBL</a>').format(view.get_url(".download_view", id=document.id, ubl=1))
    return link


def _status(view, context, document, name):
    status = DocumentStatus(document.status)
    html = Markup('<span class="badge badge-{}">{}</span>').format(STATUS_BADGES[status], status.label)
    if document.retry_at is not None:
        html += Markup('<div class="small text-warning">{}</div>').format(_(
            "Retrying at %(time)s: %(reason)s", time=localdatetime(document.retry_at), reason=document.error or "?"))
    elif status == DocumentStatus.FAILED and document.error:
        html += Markup('<div class="small text-danger">{}</div>').format(document.error)
    elif status == DocumentStatus.SENT and document.delivered_to:
        html += Markup('<div class="small text-muted">{}</div>').format(document.delivered_to)
    return html


def _sender(view, context, document, name):
    """The sender, with whether SPF or DKIM authenticated it (nothing for documents received before the check)."""
    if document.sender_verdict is None:
        return document.sender or ""
    verdict = SenderVerdict(document.sender_verdict)
    return Markup('{} <span class="badge badge-{}" title="{}">{}</span>').format(
        document.sender or "", VERDICT_BADGES[verdict], document.sender_authentication or "", verdict.label)


def send_task(description: str, func, *args, client=None, total: int = 0):
    """Launch a delivery task; returns the redirect to its page, or None (with the reason flashed)."""
    try:
        task = tasks.launch("send_documents", description, func, *args, user=current_user, client=client, total=total,
                            queue="bulk")
    except tasks.QueueUnavailable as error:
        flash(str(error), "error")
        return None
    flash(_("Sending to the accountant: follow the progress below."), "info")
    return redirect(url_for("task.details_view", id=task.id))


class DocumentView(ScopedModelView):
    client_relationship = "client"
    create_role = None
    edit_role = Role.STAFF  # the document type only: it decides where the document goes
    delete_role = None
    column_list = ("client", "filename", "doc_type", "status", "sender", "received_at", "sent_at", "attempts")
    column_labels = {
        "client": _l("Client"), "filename": _l("File"), "doc_type": _l("Type"), "status": _l("Status"),
        "sender": _l("Sender"), "received_at": _l("Received"), "sent_at": _l("Sent"), "error": _l("Error"),
        "attempts": _l("Attempts"), "delivered_to": _l("Delivered to"), "last_attempt_at": _l("Last attempt"),
        "size": _l("Size (bytes)"), "content_type": _l("File type"), "storage_path": _l("Stored file"),
        "ubl_filename": _l("UBL file"), "ubl_storage_path": _l("Stored UBL file"), "message_id": _l("E-mail message id"),
        "retry_at": _l("Tried again at"), "first_failed_at": _l("First failed attempt"),
        "sender_verdict": _l("Sender check"), "sender_authentication": _l("SPF and DKIM results"),
    }
    column_details_list = ("client", "filename", "doc_type", "status", "error", "retry_at", "first_failed_at", "sender",
                           "sender_authentication", "received_at", "sent_at", "delivered_to", "attempts", "last_attempt_at",
                           "size", "content_type")
    column_choices = {"doc_type": choices_of(DocumentType)}
    column_formatters = {
        "filename": _filename, "status": _status, "sender": _sender,
        "size": lambda view, context, document, name: localnumber(document.size),
    }
    column_formatters_detail = column_formatters
    column_sortable_list = (("client", "client.name"), "filename", "status", "received_at", "sent_at")
    column_default_sort = [("received_at", True), ("id", True)]
    column_searchable_list = ("filename", "sender")
    form_columns = ("doc_type",)
    form_choices = {"doc_type": choices_of(DocumentType)}

    def get_filters(self):
        return [
            FilterEqual(Document.status, _l("Status"), options=choices_of(DocumentStatus)),
            IdEqualFilter(Document.client_id, _l("Client id")),  # an integer: PostgreSQL compares no text to it
            FilterEqual(Document.doc_type, _l("Type"), options=choices_of(DocumentType)),
            FilterEqual(Document.sender_verdict, _l("Sender check"), options=choices_of(SenderVerdict)),
            NotDoneFilter(Document.id, _l("Delivery"), _l("not done"), delivery_not_done_condition),
        ]

    def is_action_allowed(self, name):
        return name == "send" and current_user.has_role(Role.STAFF)

    @action("send", _l("To accountant"), _l("Send the selected documents to the accountant (Inbox and Failed ones)?"))
    def action_send(self, ids):
        documents = [d.id for d in self.scoped_rows(ids) if d.status != DocumentStatus.SENT]
        if not documents:
            flash(_("None of the selected documents is waiting to be sent."), "warning")
            return None
        retry_now(documents)
        return send_task(ngettext("Send %(num)d document to the accountant", "Send %(num)d documents to the accountant",
                                  len(documents)), run_send_documents, documents, total=len(documents))

    @expose("/download/")
    def download_view(self):
        """The stored file (or its UBL with ubl=1), only for a document the user's scope reaches."""
        return documents.download(self.get_one(request.args.get("id")), ubl=request.args.get("ubl") == "1")

    @expose("/preview/")
    def preview_view(self):
        """The stored PDF or image shown in the browser, only for a document the user's scope reaches."""
        return documents.preview(self.get_one(request.args.get("id")))
