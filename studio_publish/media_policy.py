"""Where media may come from: the one folder local files are read from, and public hosts.

A post's media is written by the web app's users, and `run-due` runs on a server that holds
the database password, the platform tokens and a view of the internal network. So:

* A local file is read only from inside ``STUDIO_PUBLISH_MEDIA_ROOT``, after resolving the
  path (no ``..`` or symbolic link leads out), and never a hidden file (``.env``). With no
  root set, local files are refused.
* A media URL names a public host. An address on loopback, private, link-local (the cloud
  metadata address), unique-local, shared or reserved networks is refused unless
  ``STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS`` names it (a host name, an address or a CIDR range).
  IPv4 written in hex, octal or as one number (``0x7f000001``) counts as the address it is.
* When the tool fetches a URL itself (a TikTok FILE_UPLOAD from a URL), every address the
  host resolves to must pass, and the connection goes to the address that was checked: a
  second DNS answer (rebinding) is never used. Redirects are not followed.

The same checks run when a post is scheduled (`schedule`, exit 2 naming the setting) and
when the engine claims it, whoever wrote the row; a refused item fails that post alone with
reason ``invalid``. Host names are resolved only at fetch time: that is the answer that
counts, and `schedule` must not hang on a resolver.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ROOT_SETTING = "STUDIO_PUBLISH_MEDIA_ROOT"
HOSTS_SETTING = "STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS"

# Names that always mean this machine, whatever a resolver says (RFC 6761 section 6.3).
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_IPV4_LEGACY = frozenset("0123456789abcdefxABCDEFX.")


class MediaRefused(Exception):
    """A media item this server will not read; ``setting`` is what would allow it."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.setting = setting

    def __str__(self) -> str:
        return f"{self.message} ({self.setting})" if self.setting else self.message


@dataclass(frozen=True)
class UrlTarget:
    """A media URL that passed the checks: where to connect and what to call the host."""

    url: str
    scheme: str
    host: str  # as written, lower case, no brackets
    port: int


@dataclass(frozen=True)
class PinnedUrl:
    """A URL rewritten to the checked address, with the Host header and TLS name to use."""

    url: str  # the same URL with the host replaced by the checked address
    host_header: str | None  # None: the URL is used as it is (its host is an address)
    sni_hostname: str | None  # for https: the certificate is checked against the name


def parse_ip(host: str) -> IpAddress | None:
    """The address a host string denotes when it is an address, in any spelling libc takes."""
    text = host.strip("[]").rstrip(".")
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        if not text or not set(text) <= _IPV4_LEGACY or not text[0].isdigit():
            return None
        try:  # 0x7f000001, 2130706433, 0177.0.0.1, 127.1: what inet_aton (and curl) accept
            address = ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_public(address: IpAddress) -> bool:
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class MediaPolicy:
    root: Path | None = None
    allow_names: frozenset[str] = frozenset()
    allow_networks: tuple[IpNetwork, ...] = ()

    @classmethod
    def parse(cls, root: str | None, allow_hosts: str | None) -> MediaPolicy:
        """From the two settings; ValueError with the reason for a bad value."""
        resolved = None
        if root:
            path = Path(os.path.expanduser(root))
            if not path.is_dir():
                raise ValueError(f"{root!r} is not a folder")
            resolved = path.resolve()
        names: set[str] = set()
        networks: list[IpNetwork] = []
        for entry in (allow_hosts or "").split(","):
            item = entry.strip().lower()
            if not item:
                continue
            if "/" in item:
                try:
                    networks.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    raise ValueError(f"{item!r} is not a CIDR range") from None
            elif (address := parse_ip(item)) is not None:
                networks.append(ipaddress.ip_network(address))
            elif item.replace("-", "").replace(".", "").replace("_", "").isalnum():
                names.add(item.rstrip("."))
            else:
                raise ValueError(f"{item!r} is not a host name, address or CIDR range")
        return cls(resolved, frozenset(names), tuple(networks))

    # --- local files ---------------------------------------------------------------------

    def local_file(self, location: str) -> Path:
        """The regular file behind ``location``, inside the media root, or MediaRefused.

        A relative path is taken from the media root (the web app knows only the root).
        """
        if self.root is None:
            raise MediaRefused(
                "local media files are refused: no media root is set", setting=ROOT_SETTING
            )
        given = Path(location)
        name = given.name or location
        try:
            path = (self.root / given).resolve(strict=True)
        except (OSError, RuntimeError):  # missing, a loop of links, or unreadable
            raise MediaRefused(f"{name}: no such file in the media root") from None
        if not path.is_relative_to(self.root):
            raise MediaRefused(f"{name}: outside the media root", setting=ROOT_SETTING)
        if any(part.startswith(".") for part in path.relative_to(self.root).parts):
            raise MediaRefused(f"{name}: hidden files and folders are never media")
        if not path.is_file():
            raise MediaRefused(f"{name}: not a regular file")
        if not os.access(path, os.R_OK):
            raise MediaRefused(f"{name}: cannot be read (permission denied)")
        return path

    # --- URLs ----------------------------------------------------------------------------

    def allows(self, host: str, address: IpAddress) -> bool:
        return (
            is_public(address)
            or host in self.allow_names
            or any(address in network for network in self.allow_networks)
        )

    def check_url(self, url: str) -> UrlTarget:
        """The checks that need no resolver: scheme, port, credentials, literal addresses."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise MediaRefused("only http(s) URLs are fetched")
        if "@" in parts.netloc:
            raise MediaRefused("a media URL cannot carry a user name or password")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise MediaRefused("the URL's port is not a number from 1 to 65535") from None
        if port == 0:
            raise MediaRefused("the URL's port is not a number from 1 to 65535")
        host = parts.hostname.rstrip(".")
        address = parse_ip(host)
        local_name = host in _LOCAL_NAMES or host.endswith(".localhost")
        if host in self.allow_names:
            pass
        elif address is not None and not self.allows(host, address):
            raise MediaRefused(f"{host} is not a public address", setting=HOSTS_SETTING)
        elif local_name:
            raise MediaRefused(f"{host} is this machine", setting=HOSTS_SETTING)
        return UrlTarget(url=url, scheme=scheme, host=host, port=port)

    async def pin(self, url: str) -> PinnedUrl:
        """Resolve the URL's host once, check every address, and point the URL at one."""
        target = self.check_url(url)
        address = parse_ip(target.host)
        if address is not None:  # an address already checked: connect to it as it is
            return PinnedUrl(
                url=_with_host(url, address, target.port), host_header=None, sni_hostname=None
            )
        try:
            answers = await resolve_host(target.host, target.port)
        except (OSError, UnicodeError):
            raise MediaRefused(f"cannot resolve the media host {target.host}") from None
        addresses = [parse_ip(answer) for answer in answers]
        checked = [a for a in addresses if a is not None and self.allows(target.host, a)]
        if not checked or len(checked) != len(addresses):
            raise MediaRefused(
                f"the media host {target.host} resolves to an address that is not public",
                setting=HOSTS_SETTING,
            )
        default_port = 443 if target.scheme == "https" else 80
        name = target.host
        return PinnedUrl(
            url=_with_host(url, checked[0], target.port),
            host_header=name if target.port == default_port else f"{name}:{target.port}",
            sni_hostname=name if target.scheme == "https" else None,
        )


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address the resolver gives for ``host`` (tests replace this function)."""
    loop = asyncio.get_running_loop()
    answers = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in answers]


def _with_host(url: str, address: IpAddress, port: int) -> str:
    literal = f"[{address}]" if address.version == 6 else str(address)
    return urlsplit(url)._replace(netloc=f"{literal}:{port}").geturl()


def host_of(url: str) -> str:
    """The host part of a URL for messages: never the path or query (they carry secrets)."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"
