"""TikTok FILE_UPLOAD chunk planning, exactly per the media transfer guide (TT-mtg).

Each chunk is 5-64 MB except the last, which takes the leftover bytes and may reach
128 MB; ``total_chunk_count = floor(video_size / chunk_size)``; a file under 5 MB is one
chunk with ``chunk_size = video_size``; a file over 64 MB must be split; 1-1000 chunks.

The chunk bounds read "MB" as MiB (2**20), as most clients do; the 10 MiB chunks used are
within either reading. The one place the reading decides anything is the whole-file
threshold: "Videos with a total size greater than 64 MB must be uploaded in multiple
chunks" (https://developers.tiktok.com/doc/content-posting-api-media-transfer-guide), and
TikTok's own example is decimal (chunk_size 10,000,000 for a 50,000,123-byte file). So a
whole file goes as one chunk only up to 64,000,000 bytes, which no reading of "64 MB" can
refuse. Larger files use 10 MiB chunks (as Postiz does): a failed chunk costs little to
resend, and even a 4 GB file stays far under 1000 chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024
MIN_CHUNK = 5 * MIB
MAX_CHUNK = 64 * MIB
MAX_FINAL_CHUNK = 128 * MIB
MAX_CHUNKS = 1000
DEFAULT_CHUNK = 10 * MIB
SINGLE_CHUNK_MAX = 64_000_000  # decimal "64 MB": above it a file must be split (docstring)


@dataclass(frozen=True)
class ChunkPlan:
    video_size: int
    chunk_size: int
    total_chunk_count: int
    ranges: tuple[tuple[int, int], ...]  # (first byte, last byte), inclusive, in order

    @property
    def source_info(self) -> dict[str, int | str]:
        return {
            "source": "FILE_UPLOAD",
            "video_size": self.video_size,
            "chunk_size": self.chunk_size,
            "total_chunk_count": self.total_chunk_count,
        }


def plan_chunks(video_size: int, chunk_size: int | None = None) -> ChunkPlan:
    """Split ``video_size`` bytes into TikTok chunks; ValueError when the rules cannot be met."""
    if video_size <= 0:
        raise ValueError("the video is empty")
    if chunk_size is None:
        chunk_size = video_size if video_size <= SINGLE_CHUNK_MAX else DEFAULT_CHUNK
    if video_size < MIN_CHUNK and chunk_size != video_size:
        raise ValueError("a video under 5 MB must be uploaded as one chunk")
    if video_size >= MIN_CHUNK and not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        raise ValueError(f"chunk_size must be 5-64 MB, not {chunk_size} bytes")
    count = video_size // chunk_size
    if not 1 <= count <= MAX_CHUNKS:
        raise ValueError(f"{count} chunks: TikTok takes 1-1000")
    final_size = video_size - (count - 1) * chunk_size
    if final_size > MAX_FINAL_CHUNK:
        raise ValueError(f"the final chunk would be {final_size} bytes, over 128 MB")
    ranges = [(i * chunk_size, (i + 1) * chunk_size - 1) for i in range(count - 1)]
    ranges.append(((count - 1) * chunk_size, video_size - 1))  # the last takes the remainder
    return ChunkPlan(video_size, chunk_size, count, tuple(ranges))
