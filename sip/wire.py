"""Addresses from the wire: every host and port is checked before a socket sees it.

asyncio's datagram transport treats any exception from ``sendto`` other than ``OSError`` as
fatal and closes the socket (``OverflowError`` for port 99999, ``TypeError``/``ValueError`` for
a host with a NUL byte). So nothing taken from a Via, Contact, Route or SDP reaches
``sendto`` unless ``checked_destination`` accepted it.
"""

from __future__ import annotations

import functools
import ipaddress
import re

MAX_HOST = 253
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")


class BadAddressError(ValueError):
    """A host or port from the wire that must not be used (the message says why)."""


def checked_host(host: object) -> str:
    """An IP literal (brackets of an IPv6 reference removed) or an RFC 1123 host name."""
    if not isinstance(host, str) or not host:
        raise BadAddressError("empty host")
    return _checked_host(host)


@functools.lru_cache(maxsize=4096)  # the same few peers send every message: parse each once
def _checked_host(host: str) -> str:
    if len(host) > MAX_HOST + 2:
        raise BadAddressError(f"host of {len(host)} characters")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if bare is not host or not _HOSTNAME.match(bare):
        raise BadAddressError(f"bad host {printable(host)!r}")
    return bare


def checked_port(port: object, *, allow_zero: bool = False) -> int:
    if isinstance(port, bool) or not isinstance(port, int):
        raise BadAddressError(f"port {printable(str(port))!r} is not a number")
    if not (0 if allow_zero else 1) <= port <= 65535:
        raise BadAddressError(f"port {port} out of range")
    return port


def checked_destination(addr: tuple[str, int]) -> tuple[str, int]:
    return checked_host(addr[0]), checked_port(addr[1])


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def family_of(host: str) -> int:
    """4 or 6 for an IP literal, 0 for a host name."""
    try:
        return ipaddress.ip_address(host.strip("[]")).version
    except ValueError:
        return 0


def printable(text: str, limit: int = 64) -> str:
    """A wire value made safe for a log line: bounded, control characters escaped."""
    cut = text[:limit]
    out = cut.encode("unicode_escape", "backslashreplace").decode("ascii")
    return out + ("..." if len(text) > limit else "")


def host_for_uri(host: str) -> str:
    """``::1`` -> ``[::1]`` for a URI, Via sent-by or SDP-free place that needs brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
