"""Peppol, the outside side: who holds a participant (SML by DNS, then the SMP), and our access point.

- `Sml.smp_url(participant)`: the U-NAPTR lookup of the current Peppol SML (PFUOI 4.4): the name is
  base32(sha256(lower-cased identifier value)) without padding, under `iso6523-actorid-upis.<zone>`;
  the NAPTR record with service `Meta:SMP` and flag `U` carries the SMP base URL. No record: nobody
  has registered the participant for receiving.
- `Smp.provider(smp_url, participant)`: what that SMP says about the provider (service group, then
  the first service's endpoint description and technical contact), for the "registered elsewhere" warning.
- `AccessPoint`: our access point's HTTP JSON API (PEPPOL_AP_URL, bearer PEPPOL_AP_TOKEN):
    GET    {ap}/participants/{id}   200 {"participant", "send", "receive", "document_types"} or 404
    PUT    {ap}/participants/{id}   {"name", "country", "send", "receive", "document_types"}: registers
                                    (receive: in the SML and SMP, for the document types); 409 when the
                                    SML refuses because another provider holds the participant
    DELETE {ap}/participants/{id}   unregisters; 404 means there was nothing to unregister
  where {id} is the percent-encoded `iso6523-actorid-upis::0208:<number>`.
"""
import base64
import hashlib
import logging
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

import dns.exception
import dns.rdatatype
import dns.resolver
from flask_babel import gettext as _

from .http import HttpError, json_request, request
from .outbound import Outbound
from .resolvers import resolver

log = logging.getLogger(__name__)

SCHEME = "iso6523-actorid-upis"
ENTERPRISE_NUMBER_SCHEME = "0208"  # Belgian enterprise number (KBO/BCE), mandatory in Belgium
VAT_SCHEME = "9925"  # Belgian VAT number, "BE" + enterprise number
# Peppol BIS Billing 3.0 invoice and credit note: what a registered Belgian company receives.
BILLING_DOCUMENT_TYPES = (
    "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice"
    "##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1",
    "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2::CreditNote"
    "##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1",
)


class PeppolError(RuntimeError):
    """An outside party (DNS, SMP, access point) could not be reached or refused; str() says which and why."""


class PeppolUnavailable(PeppolError):
    """A passing failure (unreachable, timed out, 5xx): the same request may go through later."""


class ParticipantTaken(PeppolError):
    """The access point says another provider holds the participant."""


def participant_ids(enterprise_number: str) -> list[str]:
    """The identifiers a Belgian company may be registered under: 0208 first, then 9925."""
    return [f"{ENTERPRISE_NUMBER_SCHEME}:{enterprise_number}", f"{VAT_SCHEME}:BE{enterprise_number}"]


def sml_hostname(participant: str, zone: str) -> str:
    """`0208:0403170701` → `7HPKIXRG…YQ.iso6523-actorid-upis.<zone>` (only the value is hashed, lower-cased)."""
    digest = hashlib.sha256(participant.strip().lower().encode()).digest()
    return f"{base64.b32encode(digest).decode().rstrip('=')}.{SCHEME}.{zone.strip('.')}"


def _naptr_target(regexp: bytes) -> str | None:
    """The URI of a U-NAPTR regexp such as `!^.*$!https://smp.example!` (RFC 4848: the whole string is replaced)."""
    text = regexp.decode("ascii", "replace")
    if len(text) < 3:
        return None
    parts = text[1:].split(text[0])
    if len(parts) < 2 or parts[0] not in (".*", "^.*$"):
        return None
    return parts[1] if parts[1].startswith(("http://", "https://")) else None


class Sml:
    def __init__(self, zone: str, dns_server: str | None = None, timeout: float = 5):
        self.zone = zone
        self.resolver = resolver(dns_server, timeout)
        self.server = dns_server or _("the system's DNS resolver")

    def smp_url(self, participant: str) -> str | None:
        """The SMP base URL the SML points `participant` at; None when it is not registered anywhere."""
        name = sml_hostname(participant, self.zone)
        try:
            answer = self.resolver.resolve(name, dns.rdatatype.NAPTR)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except dns.exception.DNSException as error:
            raise PeppolUnavailable(_("The Peppol SML could not be asked about %(participant)s (DNS %(server)s: %(error)s)",
                                participant=participant, server=self.server, error=error)) from None
        records = sorted(answer, key=lambda r: (r.order, r.preference))
        for record in records:
            if record.service.lower() == b"meta:smp" and record.flags.upper() == b"U":
                target = _naptr_target(record.regexp)
                if target:
                    return target
        return None


@dataclass
class Provider:
    smp_url: str
    name: str | None = None
    contact: str | None = None

    @property
    def smp_host(self) -> str:
        return urlsplit(self.smp_url).hostname or self.smp_url


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml(body: bytes):
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise PeppolError(_("The SMP answered something that is not XML (%(error)s)", error=error)) from None


class Smp:
    """The SMP the SML names: its address comes from the outside world, so it is checked like staff input."""

    def __init__(self, outbound: Outbound, timeout: float = 10):
        self.outbound, self.timeout = outbound, timeout

    def service_group_url(self, smp_url: str, participant: str) -> str:
        return f"{smp_url.rstrip('/')}/{quote(f'{SCHEME}::{participant}', safe='')}"

    def service_references(self, smp_url: str, participant: str) -> list[str]:
        """The service metadata links of the participant's ServiceGroup."""
        answer = request("GET", self.service_group_url(smp_url, participant), timeout=self.timeout,
                         what=_("The SMP %(host)s", host=urlsplit(smp_url).hostname), outbound=self.outbound)
        root = _xml(answer.body)
        return [e.get("href") for e in root.iter() if _local(e.tag) == "ServiceMetadataReference" and e.get("href")]

    def provider(self, smp_url: str, participant: str) -> Provider:
        """Who the SMP says serves the participant: its endpoint description and technical contact, where given."""
        provider = Provider(smp_url)
        references = self.service_references(smp_url, participant)
        if not references:
            return provider
        answer = request("GET", references[0], timeout=self.timeout, what=_("The SMP %(host)s", host=provider.smp_host),
                         outbound=self.outbound)
        for element in _xml(answer.body).iter():
            text = (element.text or "").strip()
            if not text:
                continue
            if _local(element.tag) == "ServiceDescription" and provider.name is None:
                provider.name = text[:200]
            elif _local(element.tag) == "TechnicalContactUrl" and provider.contact is None:
                provider.contact = re.sub(r"^mailto:", "", text)[:200]
        return provider


class AccessPoint:
    def __init__(self, url: str, token: str | None, timeout: float = 15):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    @classmethod
    def from_config(cls, config) -> "AccessPoint | None":
        return cls(config["PEPPOL_AP_URL"], config.get("PEPPOL_AP_TOKEN")) if config.get("PEPPOL_AP_URL") else None

    def _url(self, participant: str) -> str:
        return f"{self.url}/participants/{quote(f'{SCHEME}::{participant}', safe='')}"

    def _call(self, method: str, participant: str, payload=None, missing_ok: bool = False):
        try:
            return json_request(method, self._url(participant), payload, token=self.token, timeout=self.timeout,
                                what=_("The Peppol access point"))
        except HttpError as error:
            if missing_ok and error.status == 404:
                return None
            if error.status == 409:
                raise ParticipantTaken(error.detail() or _("%(participant)s is registered with another provider",
                                                           participant=participant)) from None
            if error.status in (401, 403):
                raise PeppolError(_("The Peppol access point refused our access token (HTTP %(status)d): an administrator must "
                                    "check it", status=error.status)) from None
            detail = error.detail()
            reply = f"{error}{': ' + detail if detail else ''}"
            raise (PeppolUnavailable if error.transient else PeppolError)(reply) from None

    def holds(self, participant: str) -> bool:
        return self._call("GET", participant, missing_ok=True) is not None

    def register(self, participant: str, name: str, country: str, send: bool, receive: bool) -> None:
        self._call("PUT", participant, {
            "name": name, "country": country, "send": send, "receive": receive,
            "document_types": list(BILLING_DOCUMENT_TYPES) if receive else [],
        })

    def unregister(self, participant: str) -> None:
        self._call("DELETE", participant, missing_ok=True)
