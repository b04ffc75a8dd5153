"""Where a webhook may post: public addresses only, unless the operator allowed an intranet receiver.

Checked twice: at subscription (the URL's form, and the host when it is an address in any notation the
resolver accepts: `2130706433`, `0177.0.0.1`, `[::ffff:169.254.169.254]`), and at every delivery after
resolving the name, on every address it resolves to; the request then goes to the address that was checked,
so a name that is re-pointed between check and connect (DNS rebinding) reaches nothing new.
Addresses are judged by `ipaddress`, never by string matching.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that always mean this machine or a cloud's metadata service, whatever a resolver says.
LOCAL_NAMES = ("localhost", "localhost.localdomain", "metadata", "metadata.google.internal", "metadata.goog")
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")


class TargetRefused(ValueError):
    """A webhook URL or address the service will not post to, with the reason."""


@dataclass(frozen=True)
class Target:
    """A checked URL: its host name, the address to connect to, and the URL rewritten to that address."""

    host: str
    address: str
    url: str


def _embedded(ip: IPAddress) -> IPAddress | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo), if any."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return None


def _public(ip: IPAddress) -> bool:
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback
                                 or ip.is_link_local or ip.is_private)


def _networks(allow: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    out = []
    for entry in allow:
        try:
            out.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue  # a host name entry
    return out


def _names(allow: Iterable[str]) -> set[str]:
    return {entry.strip().lower().rstrip(".") for entry in allow if not _is_network(entry)}


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return False
    return True


def check_address(address: str, *, allow: Sequence[str]) -> None:
    """Refuse an address that is not public, unless it (or the IPv4 address it carries) is in an allowed CIDR."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    inner = _embedded(ip)
    nets = _networks(allow)
    for candidate in (ip, inner):
        if candidate is not None and any(candidate.version == n.version and candidate in n for n in nets):
            return
    if not _public(ip) or (inner is not None and not _public(inner)):
        raise TargetRefused(f"{address} 是内网、本机、链路本地、组播或保留地址 (not a public address); "
                            "内网接收端须由运维加入 CLOSELOOP_NOTIFY_WEBHOOK_ALLOW")


def literal_address(host: str) -> str | None:
    """The address a host written as an address stands for, in any notation a resolver accepts, else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    try:
        # inet_aton takes the historic forms: 2130706433, 0177.0.0.1, 0x7f.1, 127.1
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def _split(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("须为 http(s) 地址 (an http(s) URL)")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise TargetRefused("地址中不得包含用户名或密码,请改用签名密钥 (no credentials in the URL; the body is "
                            "signed with the secret)")
    try:
        port = parts.port
    except ValueError:
        raise TargetRefused("端口无效 (not a valid port)") from None
    return parts.scheme, parts.hostname.lower(), port


def check_form(url: str, *, allow: Sequence[str]) -> None:
    """The checks that need no resolver: scheme, no credentials, no local name, no non-public address literal."""
    _, host, _ = _split(url)
    bare = host.rstrip(".")
    if bare in _names(allow):
        return
    if bare in LOCAL_NAMES or bare.endswith(LOCAL_SUFFIXES):
        raise TargetRefused(f"{bare} 指向本机或内部服务 (a local or metadata name)")
    address = literal_address(bare)
    if address is not None:
        check_address(address, allow=allow)


def resolve_host(host: str, port: int) -> list[str]:
    """Every address a name resolves to (blocking: call in a thread)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def check_url(url: str, *, allow: Sequence[str],
              resolve: Callable[[str], list[str]] | None = None) -> Target:
    """Check a URL for delivery: its form, then every address its host resolves to; the target to connect to."""
    check_form(url, allow=allow)
    scheme, host, port = _split(url)
    bare = host.rstrip(".")
    port = port or (443 if scheme == "https" else 80)
    literal = literal_address(bare)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = resolve(bare) if resolve else resolve_host(bare, port)
        except OSError as exc:
            raise TargetRefused(f"无法解析 {bare} (the name does not resolve: {exc})") from None
        if not addresses:
            raise TargetRefused(f"无法解析 {bare} (the name resolves to nothing)")
    if bare not in _names(allow):
        for address in addresses:
            check_address(address, allow=allow)
    address = addresses[0]
    parts = urlsplit(url)
    shown = f"[{address}]" if ":" in address else address
    netloc = f"{shown}:{parts.port}" if parts.port else shown
    return Target(host=parts.netloc, address=address, url=parts._replace(netloc=netloc).geturl())
