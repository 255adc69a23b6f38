"""Accounting documents as files: how received files become documents in a client's Inbox, whichever way they came
(inbound e-mail, services/inbound.py; the portal's upload, portal/documents.py), and how a stored one is downloaded
or, when it is really a PDF or an image, shown in the browser.

A UBL invoice (XML) that comes with a file of the same name, or with the only other file, is kept as that file's UBL
(attached on e-mail delivery when asked) rather than as a document of its own."""
import unicodedata
from dataclasses import dataclass
from pathlib import PurePath

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from flask import abort, current_app, send_file

from .models import Document, DocumentStatus, DocumentType, utcnow
from .security_headers import use_own_policy
from .services.storage import DocumentStore

UBL_ROOTS = {
    "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice",
    "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote",
}
MAX_FILENAME = 255  # Document.filename
# How a file's first bytes tell its kind: the portal's upload (portal/uploads.py) and the preview trust nothing else.
SIGNATURES = {"application/pdf": b"%PDF-", "image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
# The preview's policy: a stored file is untrusted, so its page is sandboxed (a unique origin: no cookies, no script
# of ours), loads nothing and cannot be framed. Chrome's PDF viewer shows a PDF under it when the preview is opened
# in its own tab (checked with Chromium 156; in a sandboxed <iframe> Chrome blocks it, hence the tab); its page's
# inline styles need 'unsafe-inline' in older versions.
PREVIEW_POLICY = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def is_ubl(data: bytes) -> bool:
    """A UBL invoice or credit note: XML with such a root, parsed without expanding entities or fetching anything."""
    try:
        return fromstring(data).tag in UBL_ROOTS
    except (ParseError, DefusedXmlException):
        return False


def clean_filename(raw: str, default: str) -> str:
    """A file's name as someone gave it, safe to store, show and send back: no folders, no control or invisible
    formatting characters (a right-to-left override would disguise `fdp.exe` as `exe.pdf`), at most MAX_FILENAME
    characters with its extension kept; `default` when nothing is left."""
    name = PurePath(raw.replace("\\", "/")).name
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C").strip(" .") or default
    if len(name) > MAX_FILENAME:
        suffix = PurePath(name).suffix[:16]
        name = name[:MAX_FILENAME - len(suffix)] + suffix
    return name


@dataclass
class Part:
    """A received file: its name (clean_filename), its content type, its bytes."""

    filename: str
    content_type: str
    data: bytes

    @property
    def is_ubl(self) -> bool:
        return (self.content_type.endswith("xml") or self.filename.lower().endswith(".xml")) and is_ubl(self.data)


def pair_ubl(parts: list[Part]) -> list[tuple[Part, Part | None]]:
    """(document file, its UBL or None): a UBL goes with the file of the same name, else with the only other file."""
    ubls = [p for p in parts if p.is_ubl]
    files = [p for p in parts if p not in ubls]
    if not files:
        return [(ubl, None) for ubl in ubls]
    pairs = {id(f): [f, None] for f in files}
    for ubl in ubls:
        stem = PurePath(ubl.filename).stem.lower()
        match = next((f for f in files if PurePath(f.filename).stem.lower() == stem and pairs[id(f)][1] is None), None)
        if match is None and len(files) == 1 and pairs[id(files[0])][1] is None:
            match = files[0]
        if match is None:
            pairs[id(ubl)] = [ubl, None]
        else:
            pairs[id(match)][1] = ubl
    return [tuple(pair) for pair in pairs.values()]


def new_documents(store: DocumentStore, client_id: int, pairs: list[tuple[Part, Part | None]], **fields) -> list[Document]:
    """The client's new Inbox documents for these (file, its UBL or None) pairs: files written, rows made, for the
    caller to add and commit (and to delete_files() when that fails); `fields` are more of their columns (sender, ...).
    When a file cannot be written, those written before it are deleted."""
    documents = []
    try:
        for part, ubl in pairs:
            document = Document(client_id=client_id, filename=part.filename, content_type=part.content_type,
                                size=len(part.data), doc_type=DocumentType.PURCHASE.value, status=DocumentStatus.INBOX.value,
                                received_at=utcnow(), storage_path=store.save(client_id, part.filename, part.data), **fields)
            documents.append(document)
            if ubl is not None:
                document.ubl_storage_path = store.save(client_id, ubl.filename, ubl.data)
                document.ubl_filename = ubl.filename
    except BaseException:
        delete_files(store, documents)
        raise
    return documents


def delete_files(store: DocumentStore, documents: list[Document]) -> None:
    for document in documents:
        for path in (document.storage_path, document.ubl_storage_path):
            if path:
                store.delete(path)


def has_signature(content_type: str, data: bytes) -> bool:
    return data.startswith(SIGNATURES[content_type])


def previewable(document: Document) -> bool:
    """Whether the document is stored as a kind the browser may show (preview() checks its content too)."""
    return document.content_type in SIGNATURES


def _stored_file(relative: str | None):
    """The stored file's path; 404 when there is none, or when the path leads outside the documents folder."""
    if not relative:
        abort(404)
    try:
        path = DocumentStore.from_config(current_app.config).path(relative)
    except ValueError:
        abort(404)
    if not path.is_file():
        abort(404)
    return path


def download(document: Document, ubl: bool = False):
    """The document's stored file (or its UBL) as an attachment under a safe name; 404 when there is none."""
    path = _stored_file(document.ubl_storage_path if ubl else document.storage_path)
    name = (document.ubl_filename or "invoice.xml") if ubl else document.filename
    return send_file(path, mimetype="application/xml" if ubl else document.content_type, as_attachment=True,
                     download_name=clean_filename(name, "document"))


def preview(document: Document):
    """The document's stored file shown in the browser (inline), under PREVIEW_POLICY, when it is a PDF, JPEG or PNG
    both by its stored type and by its content; 404 otherwise (its download stays)."""
    if not previewable(document):
        abort(404)
    path = _stored_file(document.storage_path)
    with path.open("rb") as file:
        if not has_signature(document.content_type, file.read(16)):
            abort(404)
    response = send_file(path, mimetype=document.content_type, as_attachment=False,
                         download_name=clean_filename(document.filename, "document"))
    use_own_policy(PREVIEW_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
