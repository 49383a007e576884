"""Media sources (local files or http(s) URLs) read as streams, never whole into memory.

Every read goes through the media policy (studio_publish/media_policy.py): local files only
from inside the media root, URLs only on hosts whose every address is public (or allowed),
connected to the checked address, no redirects followed, and no more bytes than the
platform takes. A refused item fails its post with reason ``invalid``.
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from studio_publish.domain import Media
from studio_publish.media_policy import MediaPolicy, MediaRefused, PinnedUrl, host_of
from studio_publish.platforms.base import Decision, PlatformError
from studio_publish.platforms.transport import send

BLOCK_SIZE = 1024 * 1024  # bytes read from disk or the network at a time

_VIDEO_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
}


def _suffix(location: str) -> str:
    path = urlsplit(location).path if "://" in location else location
    return Path(path).suffix.lower()


def video_content_type(location: str) -> str:
    """TikTok accepts only these three; MP4 is the default for unknown extensions."""
    return _VIDEO_TYPES.get(_suffix(location), "video/mp4")


def image_content_type(location: str) -> str:
    return mimetypes.types_map.get(_suffix(location), "image/jpeg")


def refused(exc: MediaRefused) -> PlatformError:
    return PlatformError(Decision.INVALID, f"media: {exc}")


def local_path(media: Media, policy: MediaPolicy, *, max_bytes: int) -> Path:
    """The file behind a local media item, inside the media root and within the size cap."""
    try:
        path = policy.local_file(media.url)
    except MediaRefused as exc:
        raise refused(exc) from None
    check_size(path.stat().st_size, max_bytes, path.name)
    return path


def check_size(size: int, max_bytes: int, name: str) -> None:
    if size > max_bytes:
        raise PlatformError(
            Decision.INVALID,
            f"media: {name} is {size:,} bytes; the platform takes at most {max_bytes:,}",
        )


async def _pin(policy: MediaPolicy, url: str) -> PinnedUrl:
    try:
        return await policy.pin(url)
    except MediaRefused as exc:
        raise refused(exc) from None


def _headers(pinned: PinnedUrl, extra: dict[str, str]) -> dict[str, str]:
    return {**extra, "Host": pinned.host_header} if pinned.host_header else extra


def _extensions(pinned: PinnedUrl) -> dict[str, str]:
    return {"sni_hostname": pinned.sni_hostname} if pinned.sni_hostname else {}


def _not_a_redirect(response: httpx.Response, url: str) -> None:
    if response.is_redirect:
        raise PlatformError(
            Decision.INVALID,
            f"media: the server at {host_of(url)} answered with a redirect "
            f"(HTTP {response.status_code}); redirects are not followed",
            http_status=response.status_code,
        )


def file_name(location: str) -> str:
    return Path(urlsplit(location).path).name or "media"


async def file_range(path: Path, first: int, last: int) -> AsyncIterator[bytes]:
    """Bytes ``first..last`` (inclusive) of a file, a block at a time, read off the event loop."""
    remaining = last - first + 1
    with path.open("rb") as handle:
        handle.seek(first)
        while remaining > 0:
            block = await asyncio.to_thread(handle.read, min(BLOCK_SIZE, remaining))
            if not block:
                raise PlatformError(Decision.RETRY, f"{path.name} got shorter while uploading")
            remaining -= len(block)
            yield block


class FileSlice(io.RawIOBase):
    """``length`` bytes of a file from byte ``first``, as a file a multipart body reads a
    piece at a time (httpx asks its length with seek and tell, then reads it in 64 KiB
    pieces): a chunk of a large file is streamed, never held whole."""

    def __init__(self, path: Path, first: int, length: int) -> None:
        super().__init__()
        self._handle = path.open("rb")
        self._first, self._length, self._at = first, length, 0
        self.name = path.name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._at, os.SEEK_END: self._length}[whence]
        self._at = max(0, min(self._length, base + offset))
        return self._at

    def read(self, size: int = -1) -> bytes:
        left = self._length - self._at
        size = left if size is None or size < 0 else min(size, left)
        if size <= 0:
            return b""
        self._handle.seek(self._first + self._at)
        block = self._handle.read(size)
        if len(block) < size:
            raise PlatformError(Decision.RETRY, f"{self.name} got shorter while uploading")
        self._at += len(block)
        return block

    def close(self) -> None:
        self._handle.close()
        super().close()


def _positive_int(text: str) -> int | None:
    # isdecimal, not isdigit: "²" is a digit that int() refuses. 20 digits is past any file.
    return int(text) if text.isascii() and text.isdecimal() and 0 < len(text) <= 20 else None


async def url_size(
    http: httpx.AsyncClient, url: str, policy: MediaPolicy, *, timeout: float, max_bytes: int
) -> int:
    """The size of a remote file, from HEAD or else from a one-byte ranged GET."""
    pinned = await _pin(policy, url)
    # The tool downloads this file itself to upload it: say so, and where from.
    what = f"downloading the media from {host_of(url)} (size lookup)"
    response = await send(
        http,
        "HEAD",
        pinned.url,
        what=what,
        timeout=timeout,
        headers=_headers(pinned, {}),
        extensions=_extensions(pinned),
    )
    _not_a_redirect(response, url)
    length = _positive_int(response.headers.get("Content-Length", ""))
    if response.is_success and length:
        check_size(length, max_bytes, file_name(url))
        return length
    # No usable HEAD (presigned URLs often answer it 403 or 405): a one-byte ranged GET. A
    # server that ignores Range answers 200 with the whole file: its length is the size,
    # and the body is never read.
    request = http.build_request(
        "GET",
        pinned.url,
        headers=_headers(pinned, {"Range": "bytes=0-0"}),
        timeout=timeout,
        extensions=_extensions(pinned),
    )
    try:
        response = await http.send(request, stream=True)
    except httpx.TransportError as exc:
        raise PlatformError(
            Decision.RETRY, f"{what}: could not connect ({type(exc).__name__})"
        ) from exc
    await response.aclose()
    _not_a_redirect(response, url)
    if response.status_code == 206:
        total = _positive_int(response.headers.get("Content-Range", "").rpartition("/")[2])
    elif response.status_code == 200:
        total = _positive_int(response.headers.get("Content-Length", ""))
    else:
        total = None
    if total:
        check_size(total, max_bytes, file_name(url))
        return total
    decision = Decision.RETRY if response.status_code >= 500 else Decision.FAIL
    raise PlatformError(
        decision,
        f"could not find the size of the media at {host_of(url)} (HTTP {response.status_code})",
        http_status=response.status_code,
    )


async def url_range(
    http: httpx.AsyncClient, url: str, policy: MediaPolicy, first: int, last: int, *, timeout: float
) -> AsyncIterator[bytes]:
    """Bytes ``first..last`` of a remote file, streamed with a ranged GET.

    A server that ignores Range (answers 200) still works: the leading bytes are skipped.
    The host is checked and pinned again for each range: a host that resolves elsewhere
    between two chunks is held to the same rule.
    """
    pinned = await _pin(policy, url)
    request = http.build_request(
        "GET",
        pinned.url,
        headers=_headers(pinned, {"Range": f"bytes={first}-{last}"}),
        timeout=timeout,
        extensions=_extensions(pinned),
    )
    response = await http.send(request, stream=True)
    try:
        _not_a_redirect(response, url)
        if response.status_code not in (200, 206):
            raise PlatformError(
                Decision.RETRY if response.status_code >= 500 else Decision.FAIL,
                f"could not read the media at {host_of(url)} (HTTP {response.status_code})",
                http_status=response.status_code,
            )
        skip = first if response.status_code == 200 else 0
        remaining = last - first + 1
        async for block in response.aiter_bytes(BLOCK_SIZE):
            if skip:
                dropped = min(skip, len(block))
                block, skip = block[dropped:], skip - dropped
            if remaining <= 0:
                break
            piece = block[:remaining]
            remaining -= len(piece)
            if piece:
                yield piece
        if remaining > 0:
            raise PlatformError(Decision.RETRY, f"the media at {host_of(url)} ended early")
    finally:
        await response.aclose()
