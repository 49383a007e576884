"""Media sources (local files or http(s) URLs) read as streams, never whole into memory."""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from studio_publish.platforms.base import Decision, Media, PlatformError
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


def local_path(media: Media) -> Path:
    """The file behind a local media item; FAIL when it is missing (retrying will not help)."""
    path = Path(media.url.removeprefix("file://"))
    if not path.is_file():
        raise PlatformError(Decision.FAIL, f"media file not found: {path.name}")
    return path


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


async def url_size(http: httpx.AsyncClient, url: str, *, timeout: float) -> int:
    """The size of a remote file, from HEAD or else from a one-byte ranged GET."""
    response = await send(http, "HEAD", url, what="media size lookup", timeout=timeout)
    length = response.headers.get("Content-Length")
    if response.is_success and length and length.isdigit() and int(length) > 0:
        return int(length)
    response = await send(
        http, "GET", url, what="media size lookup", timeout=timeout, headers={"Range": "bytes=0-0"}
    )
    content_range = response.headers.get("Content-Range", "")
    total = content_range.rpartition("/")[2]
    if response.status_code == 206 and total.isdigit():
        return int(total)
    decision = Decision.RETRY if response.status_code >= 500 else Decision.FAIL
    raise PlatformError(
        decision,
        f"could not find the size of the media at {file_name(url)} (HTTP {response.status_code})",
        http_status=response.status_code,
    )


async def url_range(
    http: httpx.AsyncClient, url: str, first: int, last: int, *, timeout: float
) -> AsyncIterator[bytes]:
    """Bytes ``first..last`` of a remote file, streamed with a ranged GET.

    A server that ignores Range (answers 200) still works: the leading bytes are skipped.
    """
    request = http.build_request(
        "GET", url, headers={"Range": f"bytes={first}-{last}"}, timeout=timeout
    )
    response = await http.send(request, stream=True)
    try:
        if response.status_code not in (200, 206):
            raise PlatformError(
                Decision.RETRY if response.status_code >= 500 else Decision.FAIL,
                f"could not read the media at {file_name(url)} (HTTP {response.status_code})",
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
            raise PlatformError(Decision.RETRY, f"the media at {file_name(url)} ended early")
    finally:
        await response.aclose()
