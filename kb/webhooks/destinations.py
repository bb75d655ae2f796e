"""Where webhooks may go: public addresses only, unless the operator allows private ones.

A webhook makes this server send requests to a URL that a staff member typed in. Without a
check, that URL could be the database's admin port, a cloud metadata service
(169.254.169.254) or anything else reachable only from inside the network (server-side
request forgery). Set KB_WEBHOOK_ALLOW_PRIVATE=1 to deliver to loopback or private
addresses on purpose (a receiver on the same machine or LAN; the tests do).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class Blocked(Exception):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


def _refused(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_literal(url: str) -> None:
    """Refuse a URL whose host is a non-public IP address or localhost (no DNS lookup)."""
    host = (urlsplit(url).hostname or "").lower().removesuffix(".")
    if host == "localhost" or host.endswith(".localhost"):
        raise Blocked(f"{host} is this machine")
    try:
        if _refused(host):
            raise Blocked(f"{host} is a private, loopback or reserved address")
    except ValueError:
        pass  # a name, not an address: resolved at delivery


def check_resolved(url: str) -> None:
    """Refuse a URL if any address its host resolves to is not public (at delivery time)."""
    check_literal(url)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return  # unresolvable: the request itself fails with a clear connection error
    for *_, sockaddr in infos:
        if _refused(str(sockaddr[0])):
            raise Blocked(f"{parts.hostname} resolves to {sockaddr[0]}, a private address")
