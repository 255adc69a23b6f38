"""Accounting documents of the clients a user sees."""
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_babel import lazy_gettext as _l

from ..models import Document, DocumentStatus, DocumentType
from ..models.base import choices_of
from .base import ScopedModelView


class DocumentView(ScopedModelView):
    client_relationship = "client"
    create_role = None
    edit_role = None
    delete_role = None
    column_list = ("client", "filename", "doc_type", "status", "sender", "received_at", "sent_at", "error")
    column_labels = {
        "client": _l("Client"), "filename": _l("File"), "doc_type": _l("Type"), "status": _l("Status"),
        "sender": _l("Sender"), "received_at": _l("Received"), "sent_at": _l("Sent"), "error": _l("Error"),
    }
    column_choices = {"status": choices_of(DocumentStatus), "doc_type": choices_of(DocumentType)}
    column_sortable_list = (("client", "client.name"), "filename", "status", "received_at", "sent_at")
    column_default_sort = [("received_at", True)]
    column_searchable_list = ("filename", "sender")

    def get_filters(self):
        return [
            FilterEqual(Document.status, _l("Status"), options=choices_of(DocumentStatus)),
            FilterEqual(Document.client_id, _l("Client id")),
        ]
