"""Where the connections that staff (or an outside party) can point somewhere may go: API delivery, sFTP
delivery, the Peppol SMPs that the SML names.

Without a check, a staff member could type `http://127.0.0.1:6379/` as a client's API address and make the
worker send documents, with the firm's bearer token, to a service inside the firm's network (SSRF). So a
destination's name is resolved once; every address it resolves to must be public (not loopback, private,
link-local, multicast, reserved or unspecified, IPv4 or IPv6), unless OUTBOUND_ALLOWED_NETWORKS names it;
and the connection is opened to one of those very addresses: resolving again to connect could get another
answer (DNS rebinding).
"""
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import dns.exception
import dns.resolver
from flask_babel import gettext as _

from ..config import allowed_networks
from .resolvers import resolver

DEFAULT_PORTS = {"http": 80, "https": 443, "sftp": 22}
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address


class ForbiddenDestination(ValueError):
    """The destination is inside the firm's network (or resolves there); str() says so to the user."""


class UnresolvedDestination(OSError):
    """The name does not resolve (now): like an unreachable server, it may pass."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), which is where it ends up."""
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and (embedded := _embedded_ipv4(address)) is not None:
        return is_public(embedded)
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_link_local)


class Outbound:
    def __init__(self, allowed: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network] = (), dns_server: str | None = None,
                 timeout: float = 5):
        self.allowed = tuple(allowed)
        self.resolver = resolver(dns_server, timeout) if dns_server else None

    @classmethod
    def anywhere(cls) -> "Outbound":
        """For the addresses of our own configuration (e.g. PEPPOL_AP_URL): an administrator chose them."""
        return cls([ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")])

    @classmethod
    def from_config(cls, config) -> "Outbound":
        return cls(allowed_networks(config.get("OUTBOUND_ALLOWED_NETWORKS")), config.get("DNS_SERVER"))

    def permitted(self, address: Address) -> bool:
        return is_public(address) or any(address in network for network in self.allowed)

    def _resolve(self, host: str, port: int) -> list[Address]:
        try:
            return [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            pass
        if self.resolver is None:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError) as error:
                raise UnresolvedDestination(_("%(host)s does not resolve (%(error)s)", host=host, error=error)) from None
            return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
        addresses = []
        for record_type in ("A", "AAAA"):
            try:
                addresses += [ipaddress.ip_address(r.address) for r in self.resolver.resolve(host, record_type)]
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                continue
            except dns.exception.DNSException as error:
                raise UnresolvedDestination(_("%(host)s does not resolve (%(error)s)", host=host, error=error)) from None
        if not addresses:
            raise UnresolvedDestination(_("%(host)s does not resolve", host=host))
        return addresses

    def addresses(self, host: str, port: int) -> list[Address]:
        """The addresses to connect to for host; raises ForbiddenDestination when any of them is not allowed
        (a name that also resolves inside would otherwise be a way in), UnresolvedDestination when none."""
        addresses = self._resolve(host, port)
        refused = [str(a) for a in addresses if not self.permitted(a)]
        if refused:
            raise ForbiddenDestination(_(
                "%(host)s is an address inside the network (%(addresses)s): only public servers are allowed. An "
                "administrator can allow it (OUTBOUND_ALLOWED_NETWORKS).", host=host,
                addresses=", ".join(refused)))
        return addresses

    def connect(self, host: str, port: int, timeout: float) -> socket.socket:
        """A TCP connection to host:port, opened to an address that was checked (the first that answers)."""
        error = None
        for address in self.addresses(host, port):
            try:
                return socket.create_connection((str(address), port), timeout=timeout)
            except OSError as failure:
                error = failure
        raise error

    def check_url(self, url: str | None) -> None:
        """For forms: refuses an address that is (or resolves to) one inside the network. A name that does not
        resolve now passes (the worker checks again when it connects; offline use keeps working)."""
        parts = urlsplit(url or "")
        if not parts.hostname:
            return
        try:
            port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
        except ValueError:
            return  # the form's own checks say what is wrong with the port
        try:
            self.addresses(parts.hostname, port)
        except UnresolvedDestination:
            pass
