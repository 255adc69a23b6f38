"""DNS resolvers for the lookups we make (Peppol SML, inbound mail's SPF and DKIM): the system's, or a given
server (`host`, `host:port` or `[v6]:port`), as the settings say."""
import dns.resolver


def host_port(server: str) -> tuple[str, int]:
    """`127.0.0.1`, `127.0.0.1:5353`, `[::1]:5353` → (host, port)."""
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if server.count(":") == 1:
        host, port = server.split(":")
        return host, int(port)
    return server, 53


def resolver(server: str | None, timeout: float) -> dns.resolver.Resolver:
    """A resolver asking `server`, or the system's resolver when None; each lookup gives up after `timeout` seconds."""
    if server:
        chosen = dns.resolver.Resolver(configure=False)
        host, chosen.port = host_port(server)
        chosen.nameservers = [host]
    else:
        chosen = dns.resolver.Resolver()
    chosen.lifetime = timeout
    return chosen
