"""Where a webhook may be sent: https only, and only to public addresses, unless a deployment
(tests, a laptop with a local receiver) opts out of either explicitly.

Checked when an endpoint is registered, and again before every attempt (``sender.py``):
the URL's scheme and host, and every address its name resolves to, so an endpoint stored
under an earlier policy, or re-pointed in DNS after registration, reaches nothing inside
the deployment. IPv6 forms that carry an IPv4 address (mapped, 6to4, Teredo, NAT64) are
judged by that address too.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that only ever mean something inside a network (RFC 6761, RFC 6762, and the usual private zones).
LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".home.arpa", ".lan", ".intranet", ".corp")
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
# Hosts that look numeric but are not canonical dotted quads (2130706433, 0x7f.1, 127.1):
# resolvers map them onto addresses, so they are refused rather than judged as names.
_NUMERIC = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$", re.IGNORECASE)


_KINDS: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("a loopback address", lambda ip: ip.is_loopback),
    ("the unspecified address", lambda ip: ip.is_unspecified),
    ("a link-local address", lambda ip: ip.is_link_local),
    ("a multicast address", lambda ip: ip.is_multicast),
    ("a private address", lambda ip: ip.is_private),
    ("a reserved address", lambda ip: ip.is_reserved or getattr(ip, "is_site_local", False)),
    ("a non-public address", lambda ip: not ip.is_global),
)


def _kind(ip: IPAddress) -> str | None:
    """What makes ``ip`` non-public (None: public)."""
    return next((kind for kind, test in _KINDS if test(ip)), None)


def _embedded(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to (mapped, 6to4, Teredo server and client, NAT64)."""
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if any(ip in net for net in _NAT64):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def address_refusal(address: str) -> str | None:
    """Why ``address`` (an IP literal, possibly with an IPv6 zone) may not be reached; None if it is public."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and (ip.ipv4_mapped or any(ip in net for net in _NAT64)):
        inner = ip.ipv4_mapped or ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)  # only a way to write an IPv4
        kind = _kind(inner)
        return None if kind is None else f"{address} leads to {inner}, {kind}"
    if (kind := _kind(ip)) is not None:
        return f"{address} is {kind}"
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in _embedded(ip):
            if (kind := _kind(inner)) is not None:
                return f"{address} leads to {inner}, {kind}"
    return None


def is_public(address: str) -> bool:
    return address_refusal(address) is None


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True)
class TargetPolicy:
    https_only: bool
    allow_private: bool

    def url_refusal(self, url: str) -> str | None:
        """Why ``url`` may not be a webhook target, judged without resolving it; None if it may.

        A name is judged again by the addresses it resolves to, at every connection.
        """
        parsed = URL(url)
        if parsed.scheme not in ("http", "https"):
            return f"{parsed.scheme}: is not http(s)"
        if self.https_only and parsed.scheme != "https":
            return "the URL does not use https, which this deployment requires"
        if self.allow_private:
            return None
        return host_refusal((parsed.raw_host or "").lower().rstrip("."))


def host_refusal(host: str) -> str | None:
    """Why a URL's host (a name or an IP literal) is not public, judged without resolving it."""
    if not host:
        return "the URL has no host"
    if ip_literal(host) is not None:
        return address_refusal(host.strip("[]"))
    if _NUMERIC.match(host):
        return f"{host} is a numeric host that is not a canonical IPv4 address"
    if host.endswith(LOCAL_NAMES) or host in {n.lstrip(".") for n in LOCAL_NAMES} or "." not in host:
        return f"{host} is a local name"
    return None
