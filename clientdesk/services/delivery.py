"""Delivery of accounting documents to a client's accounting software: one Deliverer per method.

    EmailDeliverer  one e-mail per document, to the address for its type (or the one address), the file
                    attached and, when asked, its UBL; a batch goes over one SMTP connection (Mailer)
    SftpDeliverer   the file into <folder>/<type>/ on the client's sFTP server (paramiko); the server's
                    host key is remembered at the first connection and must match afterwards
    ApiDeliverer    a Clearfacts-style upload: a GraphQL multipart request (`operations`, `map`, the file)
                    with the client's VAT number, the file name and the invoice type, bearer token

"Manual" delivery has no deliverer: there is nothing to send. `deliver(items)` never raises for a
document: it returns one Result per item, with the reason when it failed and whether the failure is a
passing one (unreachable, timed out, 5xx, SMTP 4xx: worth trying again) or a refusal (credentials, 4xx,
settings: failed until someone fixes it).
"""
import json
import logging
import posixpath
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paramiko
from flask_babel import gettext as _

from ..models import CreditCardStatements, DeliveryMethod, DocumentType, FirmSettings, MailKind
from .http import HttpError, request
from .mail import Attachment, Logged, Mail, Mailer
from .outbound import ForbiddenDestination, Outbound

log = logging.getLogger(__name__)

# Clearfacts' invoice types
API_INVOICE_TYPES = {DocumentType.PURCHASE: "PURCHASE", DocumentType.SALES: "SALE", DocumentType.MISC: "VARIOUS"}
UPLOAD_MUTATION = ("mutation upload($vatnumber: String!, $filename: String!, $invoicetype: InvoiceTypeArgument!, $file: Upload!) "
                   "{ uploadFile(vatnumber: $vatnumber, filename: $filename, invoicetype: $invoicetype, file: $file) "
                   "{ uuid amountOfPages } }")


class DeliverySetupError(ValueError):
    """The integration's settings cannot deliver anything; str() says what to fix."""


@dataclass
class Item:
    """One document to deliver, with everything the deliverer needs (no database access there)."""

    document_id: int
    path: Path
    filename: str
    content_type: str
    doc_type: str  # purchase, sales or misc (credit-card statements already resolved)
    client_name: str
    vat_number: str | None = None
    ubl_path: Path | None = None
    ubl_filename: str | None = None
    client_id: int | None = None  # with the retry bookkeeping, for the e-mail log
    first_failed_at: datetime | None = None
    failed_attempts: int = 0


@dataclass
class Result:
    document_id: int
    delivered_to: str | None = None
    error: str | None = None
    transient: bool = False  # the error may go away by itself: try again later


def delivery_type(doc_type: str, credit_card_statements: str) -> str:
    """Credit-card statements go with purchases or with miscellaneous documents, as the integration says."""
    if doc_type == DocumentType.CREDIT_CARD:
        return DocumentType.MISC.value if credit_card_statements == CreditCardStatements.MISC else DocumentType.PURCHASE.value
    return doc_type


class EmailDeliverer:
    def __init__(self, settings, mailer: Mailer):
        self.settings, self.mailer = settings, mailer

    def address_for(self, doc_type: str) -> str | None:
        return getattr(self.settings, f"delivery_email_{doc_type}", None) or self.settings.delivery_email

    def deliver(self, items: list[Item]) -> list[Result]:
        results, mails = {}, []
        for item in items:
            address = self.address_for(item.doc_type)
            if not address:
                results[item.document_id] = Result(item.document_id, error=_(
                    "No delivery e-mail address for %(type)s documents.", type=DocumentType(item.doc_type).label.lower()))
                continue
            attachments = [Attachment(item.filename, item.content_type, str(item.path))]
            if self.settings.attach_ubl and item.ubl_path is not None:
                attachments.append(Attachment(item.ubl_filename or "invoice.xml", "application/xml", str(item.ubl_path)))
            mails.append(Mail(
                to=address, subject=f"{item.client_name}: {item.filename}",
                text=_("%(type)s document of %(client)s: %(file)s", type=DocumentType(item.doc_type).label,
                       client=item.client_name, file=item.filename),
                ref=item.document_id, attachments=attachments,
                log=Logged(MailKind.DOCUMENT, item.client_id, item.first_failed_at, item.failed_attempts),
            ))
            results[item.document_id] = Result(item.document_id, delivered_to=address)
        for failure in self.mailer.send_many(mails):
            results[failure.mail.ref] = Result(failure.mail.ref, error=failure.reason[:500], transient=failure.transient)
        return [results[item.document_id] for item in items]


@dataclass
class SftpTarget:
    host: str
    port: int
    username: str
    folder: str

    @classmethod
    def parse(cls, url: str | None) -> "SftpTarget":
        parts = urlsplit(url or "")
        if parts.scheme != "sftp" or not parts.hostname or not parts.username:
            raise DeliverySetupError(_("The sFTP folder must look like sftp://user@host[:port]/folder."))
        try:
            port = parts.port or 22
        except ValueError:
            raise DeliverySetupError(_("The sFTP port must be a number.")) from None
        return cls(parts.hostname, port, unquote(parts.username), unquote(parts.path) or "/")


class SftpDeliverer:
    def __init__(self, settings, outbound: Outbound, timeout: float = 15):
        self.settings, self.outbound = settings, outbound
        self.target = SftpTarget.parse(settings.sftp_url)
        self.timeout = timeout
        self.seen_host_key: str | None = None  # the key met at a first connection, for the caller to remember

    def _connect(self) -> tuple[paramiko.Transport, paramiko.SFTPClient]:
        transport = paramiko.Transport(self.outbound.connect(self.target.host, self.target.port, self.timeout))
        transport.banner_timeout = transport.handshake_timeout = transport.auth_timeout = self.timeout
        try:
            transport.start_client(timeout=self.timeout)
            key = transport.get_remote_server_key()
            presented = f"{key.get_name()} {key.get_base64()}"
            expected = (self.settings.sftp_host_key or "").strip()
            if expected and " ".join(expected.split()[:2]) != presented:
                raise DeliverySetupError(_(
                    "The sFTP server %(host)s presented a different host key than the one remembered (%(key)s): if the "
                    "server really changed, clear the remembered key on the integration.", host=self.target.host,
                    key=key.get_name()))
            if not expected:
                self.seen_host_key = presented
            transport.auth_password(self.target.username, self.settings.sftp_password or "")
            return transport, paramiko.SFTPClient.from_transport(transport)
        except BaseException:
            transport.close()
            raise

    @staticmethod
    def _makedirs(sftp: paramiko.SFTPClient, folder: str) -> None:
        path = ""
        for part in [p for p in folder.split("/") if p]:
            path = f"{path}/{part}" if path or folder.startswith("/") else part
            try:
                sftp.stat(path)
            except FileNotFoundError:
                sftp.mkdir(path)

    def deliver(self, items: list[Item]) -> list[Result]:
        try:
            transport, sftp = self._connect()
        except (DeliverySetupError, ForbiddenDestination) as error:
            return [Result(item.document_id, error=str(error)) for item in items]
        except paramiko.AuthenticationException:
            reason = _("The sFTP server %(host)s refused the user name or password.", host=self.target.host)
            return [Result(i.document_id, error=reason) for i in items]
        except (paramiko.SSHException, OSError) as error:
            # paramiko's messages can quote what the server sent (its banner line): only our own words are kept
            reason = _("The sFTP server %(host)s could not be reached (%(error)s).", host=f"{self.target.host}:{self.target.port}",
                       error=error if isinstance(error, OSError) else _("the SSH handshake failed"))
            return [Result(i.document_id, error=reason, transient=True) for i in items]
        results = []
        with transport, sftp:
            made = set()
            for item in items:
                folder = posixpath.join(self.target.folder, item.doc_type)
                remote = posixpath.join(folder, f"{item.document_id}-{Path(item.filename).name}")
                try:
                    if folder not in made:
                        self._makedirs(sftp, folder)
                        made.add(folder)
                    sftp.put(str(item.path), remote, confirm=True)
                except (OSError, paramiko.SSHException) as error:
                    # a refusal of the folder or file (permissions) stays; a dropped connection or full disk may pass
                    results.append(Result(item.document_id, error=_("sFTP upload of %(file)s failed: %(error)s",
                                                                    file=item.filename, error=error)[:500],
                                          transient=not isinstance(error, PermissionError)))
                    continue
                results.append(Result(item.document_id, delivered_to=f"sftp://{self.target.host}{remote}"))
        return results


class ApiDeliverer:
    def __init__(self, settings, outbound: Outbound, timeout: float = 30):
        if not (settings.api_url or "").startswith(("http://", "https://")) or not settings.api_token:
            raise DeliverySetupError(_("API delivery needs the API address (https://...) and its token."))
        self.settings, self.outbound, self.timeout = settings, outbound, timeout

    def _body(self, item: Item) -> tuple[bytes, str]:
        boundary = uuid.uuid4().hex
        operations = {"query": UPLOAD_MUTATION, "variables": {
            "vatnumber": item.vat_number, "filename": item.filename,
            "invoicetype": API_INVOICE_TYPES[DocumentType(item.doc_type)], "file": None}}
        safe_name = item.filename.replace('"', "'").replace("\r", " ").replace("\n", " ")
        chunks = []
        for name, value in (("operations", json.dumps(operations)), ("map", json.dumps({"0": ["variables.file"]}))):
            chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
                          f"Content-Type: application/json\r\n\r\n{value}\r\n".encode())
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="{safe_name}"\r\n'
                      f"Content-Type: {item.content_type}\r\n\r\n".encode())
        chunks.append(item.path.read_bytes())
        chunks.append(f"\r\n--{boundary}--\r\n".encode())
        return b"".join(chunks), f"multipart/form-data; boundary={boundary}"

    def deliver(self, items: list[Item]) -> list[Result]:
        results = []
        for item in items:
            try:
                body, content_type = self._body(item)
                answer = request("POST", self.settings.api_url, body, timeout=self.timeout, what=_("The accounting software's API"),
                                 headers={"Content-Type": content_type, "Authorization": f"Bearer {self.settings.api_token}",
                                          "Accept": "application/json"}, outbound=self.outbound)
                data = answer.json() or {}
            except HttpError as error:
                results.append(Result(item.document_id, error=str(error)[:500], transient=error.transient))
                continue
            except ForbiddenDestination as error:
                results.append(Result(item.document_id, error=str(error)[:500]))
                continue
            except (OSError, ValueError) as error:
                results.append(Result(item.document_id, error=_("Upload of %(file)s failed: %(error)s", file=item.filename,
                                                                error=error)[:500]))
                continue
            upload = (data.get("data") or {}).get("uploadFile") if isinstance(data, dict) else None
            if not upload:  # its own error messages are not kept: only that it did not take the file
                results.append(Result(item.document_id, error=_("The API did not accept %(file)s: %(reason)s", file=item.filename,
                                                                reason=_("no upload in its answer"))[:500]))
                continue
            results.append(Result(item.document_id, delivered_to=f"{urlsplit(self.settings.api_url).hostname} ({upload.get('uuid')})"))
        return results


@dataclass
class EffectiveDelivery:
    """Where a client's documents go: its integration's own settings, or the firm's default delivery."""

    settings: object  # the ClientIntegration, or the FirmSettings for a client on the firm default
    firm_default: bool
    # Why the firm default cannot go to this client's software (then nothing is sent: delivered manually)
    unsupported: str | None = None

    @property
    def method(self) -> str:
        return DeliveryMethod.MANUAL.value if self.unsupported else self.settings.delivery_method

    @property
    def method_label(self) -> str:
        return DeliveryMethod(self.method).label


def effective_delivery(integration) -> EffectiveDelivery:
    """The one place that says which delivery settings a client's integration uses. The firm default is read
    as it stands now, so a change of the default applies at once to every client on it. A default method the
    client's software does not take leaves that client on manual delivery, with the reason shown."""
    if not integration.uses_firm_default:
        return EffectiveDelivery(integration, firm_default=False)
    firm = FirmSettings.current()
    product = integration.product
    if firm.delivery_method not in product.delivery_method_list:
        return EffectiveDelivery(firm, firm_default=True, unsupported=_(
            "The firm default delivery (%(method)s) does not go to %(product)s: its documents are delivered manually "
            "until the default or the client's own settings change.", method=DeliveryMethod(firm.delivery_method).label,
            product=product.name))
    return EffectiveDelivery(firm, firm_default=True)


def deliverer_for(settings, config):
    """The deliverer for an integration's method; None for manual delivery. Raises DeliverySetupError."""
    method = settings.delivery_method
    if method == DeliveryMethod.EMAIL:
        return EmailDeliverer(settings, Mailer.from_config(config))
    if method == DeliveryMethod.SFTP:
        return SftpDeliverer(settings, Outbound.from_config(config))
    if method == DeliveryMethod.API:
        return ApiDeliverer(settings, Outbound.from_config(config))
    return None


def settings_problems(settings, product) -> list[str]:
    """What keeps these delivery settings (a client's integration or a template's defaults) from working. On the
    firm default (`uses_firm_default`) only the software is needed: the firm's settings are checked on their screen."""
    method = settings.delivery_method
    if getattr(settings, "uses_firm_default", False):
        return [] if product is not None else [_("Choose the accounting software that receives the documents.")]
    problems = []
    if product is None and method != DeliveryMethod.MANUAL:
        problems.append(_("Choose the accounting software that receives the documents."))
    if product is not None and method not in product.delivery_method_list:
        known = {member.value for member in DeliveryMethod}
        supported = ", ".join(str(DeliveryMethod(m).label) for m in product.delivery_method_list if m in known)
        problems.append(_("%(product)s does not take documents by %(method)s (it takes: %(supported)s).", product=product.name,
                          method=DeliveryMethod(method).label, supported=supported))
    return problems + method_problems(settings)


def method_problems(settings) -> list[str]:
    """What keeps these delivery settings from working, whatever the software (the firm default's check)."""
    method = settings.delivery_method
    problems = []
    if method == DeliveryMethod.EMAIL:
        missing = [DocumentType(t).label.lower() for t in ("purchase", "sales", "misc")
                   if not (getattr(settings, f"delivery_email_{t}") or settings.delivery_email)]
        if missing:
            problems.append(_("E-mail delivery needs an address: one for every document, or one per type (missing: %(types)s).",
                              types=", ".join(missing)))
    elif method == DeliveryMethod.SFTP:
        try:
            SftpTarget.parse(settings.sftp_url)
        except DeliverySetupError as error:
            problems.append(str(error))
        if not settings.sftp_password:
            problems.append(_("sFTP delivery needs the password of the sFTP user."))
    elif method == DeliveryMethod.API:
        if not (settings.api_url or "").startswith(("http://", "https://")):
            problems.append(_("API delivery needs the API address (https://...)."))
        if not settings.api_token:
            problems.append(_("API delivery needs the API token."))
    return problems
