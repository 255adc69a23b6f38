"""Whether an inbound message really comes from the domain it says: SPF of the envelope sender's domain for the
connecting server (pyspf) and the message's DKIM signatures (dkimpy), their DNS asked through the resolver that
DNS_SERVER names. A domain they authenticate vouches for an address whose domain has the same
organisational domain (DMARC's relaxed alignment, by the Public Suffix List)."""
import functools
from dataclasses import dataclass

import dkim
import dns.exception
import dns.resolver
import spf
from publicsuffixlist import PublicSuffixList


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list the package ships: no download


def organisational_domain(domain: str) -> str:
    """`factuur.leverancier.example.be` → `example.be`: the registered domain above the public suffix."""
    domain = domain.strip(".").lower()
    return _public_suffixes().privatesuffix(domain) or domain


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower()


@dataclass(frozen=True)
class Authentication:
    """What SPF and DKIM made of a message."""

    domains: frozenset[str]  # the domains that authenticated it
    results: str  # in the Authentication-Results notation, e.g. "spf=pass smtp.mailfrom=a.example; dkim=none"
    undecided: bool = False  # a DNS failure left a check without an answer: asking again later may change it

    def vouches_for(self, address: str) -> bool:
        domain = domain_of(address)
        return bool(domain) and organisational_domain(domain) in {organisational_domain(d) for d in self.domains}


class SpfQuery(spf.query):
    """pyspf's SPF evaluation, its DNS asked through `resolver` (pyspf's own lookup asks dnspython's one
    process-wide resolver, which no setting can point elsewhere). Answers are kept for the query, CNAMEs are
    followed by the resolver, and empty answers count towards RFC 7208's void-lookup limit, as pyspf does."""

    def __init__(self, resolver: dns.resolver.Resolver, **kwargs):
        super().__init__(**kwargs)
        self.resolver = resolver

    def dns(self, name, qtype, cnames=None, ignore_void=False):
        key = (str(name).rstrip(".").lower(), qtype)
        if key not in self.cache:
            self.cache[key] = self.records(*key)
        records = self.cache[key]
        if not records and not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > spf.MAX_VOID_LOOKUPS:
                raise spf.PermError(f"Void lookup limit of {spf.MAX_VOID_LOOKUPS} exceeded")
        return records

    def records(self, name: str, qtype: str) -> list:
        """The answer's records as pyspf's lookups give them."""
        try:
            answer = self.resolver.resolve(name, qtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as error:
            raise spf.TempError(f"DNS {error}") from None
        if qtype in ("A", "AAAA"):
            return [record.address for record in answer]
        if qtype == "MX":
            return [(record.preference, record.exchange) for record in answer]
        if qtype == "PTR":
            return [record.target.to_text(True) for record in answer]
        return [record.strings for record in answer]  # TXT: a record's strings, joined by pyspf


class SenderCheck:
    """Checks messages through one resolver (DNS_SERVER, or the system's)."""

    def __init__(self, resolver: dns.resolver.Resolver):
        self.resolver = resolver

    def authenticate(self, content: bytes, envelope_sender: str, client_ip: str, helo: str) -> Authentication:
        spf_domain, spf_result = self._spf(envelope_sender, client_ip, helo)
        signatures = self._dkim(content)
        domains = {d for d, result in [(spf_domain, spf_result), *signatures] if result == "pass"}
        results = [f"spf={spf_result} smtp.mailfrom={spf_domain or '-'}"]
        results += [f"dkim={result} header.d={d or '-'}" for d, result in signatures] or ["dkim=none"]
        undecided = any(result == "temperror" for _d, result in [(spf_domain, spf_result), *signatures])
        return Authentication(frozenset(domains), "; ".join(results)[:200], undecided)

    def _spf(self, envelope_sender: str, client_ip: str, helo: str) -> tuple[str, str]:
        """(the domain SPF speaks for, its result): the envelope sender's domain, or the HELO name without one."""
        if not client_ip:
            return "", "none"
        query = SpfQuery(self.resolver, i=client_ip, s=envelope_sender, h=helo or "unknown")
        result, _code, _explanation = query.check()
        return query.o, result

    def _dkim(self, content: bytes) -> list[tuple[str, str]]:
        """(d=, result) of each DKIM signature. dkimpy raises more than its DKIMException on odd input (an
        IndexError for a header section that starts with a continuation line): whatever it cannot read of the
        message is a permanent error of that message, never a reason to try again."""
        try:
            verifier = dkim.DKIM(content)
            count = sum(1 for name, _value in verifier.headers if name.lower() == b"dkim-signature")
        except Exception:
            return [("", "permerror")]
        signatures = []
        for index in range(count):
            verifier.domain = None
            try:
                result = "pass" if verifier.verify(idx=index, dnsfunc=self._txt) else "fail"
            except dkim.DnsTimeoutError:
                result = "temperror"
            except Exception:
                result = "permerror"
            signatures.append(((verifier.domain or b"").decode("ascii", "replace").lower(), result))
        return signatures

    def _txt(self, name: bytes, timeout: float = 5) -> bytes | None:
        """dkimpy's lookup of a key: the TXT record's strings joined, None when there is none."""
        try:
            answer = self.resolver.resolve(name.decode("ascii"), "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except dns.exception.DNSException as error:
            raise dkim.DnsTimeoutError(str(error)) from None
        return b"".join(answer[0].strings)


UNCHECKED = Authentication(frozenset(), "none")  # a message nobody checked: nothing vouches for it
