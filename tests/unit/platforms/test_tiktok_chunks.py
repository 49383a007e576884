"""The TikTok chunk planner against the media transfer rules (TT-mtg)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio_publish.platforms.tiktok.chunks import (
    MAX_CHUNK,
    MAX_FINAL_CHUNK,
    MIB,
    MIN_CHUNK,
    ChunkPlan,
    plan_chunks,
)


def sizes(plan: ChunkPlan) -> list[int]:
    return [last - first + 1 for first, last in plan.ranges]


def test_reference_example() -> None:
    plan = plan_chunks(50_000_123, 10_000_000)
    assert plan.total_chunk_count == 5
    assert sizes(plan) == [10_000_000] * 4 + [10_000_123]
    assert plan.source_info == {
        "source": "FILE_UPLOAD",
        "video_size": 50_000_123,
        "chunk_size": 10_000_000,
        "total_chunk_count": 5,
    }


@pytest.mark.parametrize("size", [1, 1000, MIN_CHUNK - 1])
def test_under_5_mb_is_one_chunk_of_the_whole_size(size: int) -> None:
    plan = plan_chunks(size)
    assert (plan.chunk_size, plan.total_chunk_count, plan.ranges) == (size, 1, ((0, size - 1),))


def test_exactly_64_000_000_bytes_is_one_chunk() -> None:
    plan = plan_chunks(64_000_000)
    assert (plan.chunk_size, plan.total_chunk_count) == (64_000_000, 1)


@pytest.mark.parametrize("size", [64_000_001, 64 * MIB, 64 * MIB + 1])
def test_over_64_000_000_bytes_is_split_and_the_last_chunk_takes_the_remainder(
    size: int,
) -> None:
    # "Videos with a total size greater than 64 MB must be uploaded in multiple chunks", and
    # TikTok's example counts in decimal MB:
    # https://developers.tiktok.com/doc/content-posting-api-media-transfer-guide
    plan = plan_chunks(size)
    assert plan.chunk_size == 10 * MIB
    assert plan.total_chunk_count == size // plan.chunk_size == 6
    assert sizes(plan)[:-1] == [plan.chunk_size] * 5
    assert sizes(plan)[-1] == size - 5 * plan.chunk_size  # over chunk_size: the remainder


def test_final_chunk_may_exceed_chunk_size_but_not_128_mb() -> None:
    plan = plan_chunks(64 * MIB * 2 - 1, 64 * MIB)
    assert plan.total_chunk_count == 1  # floor(128 MiB - 1 / 64 MiB)
    assert sizes(plan) == [128 * MIB - 1]


@pytest.mark.parametrize(
    ("size", "chunk"),
    [(0, None), (MIN_CHUNK - 1, 1000), (100 * MIB, MIN_CHUNK - 1), (100 * MIB, MAX_CHUNK + 1)],
)
def test_invalid_plans_are_refused(size: int, chunk: int | None) -> None:
    with pytest.raises(ValueError):
        plan_chunks(size, chunk)


def test_more_than_1000_chunks_is_refused() -> None:
    with pytest.raises(ValueError):
        plan_chunks(1001 * MIN_CHUNK, MIN_CHUNK)


@given(st.integers(min_value=1, max_value=4 * 1024**3))
def test_every_plan_follows_the_rules(size: int) -> None:
    plan = plan_chunks(size)
    chunks = sizes(plan)
    assert sum(chunks) == size
    assert plan.ranges[0][0] == 0 and plan.ranges[-1][1] == size - 1
    assert all(b[0] == a[1] + 1 for a, b in zip(plan.ranges, plan.ranges[1:], strict=False))
    assert plan.total_chunk_count == len(chunks) == size // plan.chunk_size
    assert 1 <= plan.total_chunk_count <= 1000
    if size < MIN_CHUNK:
        assert plan.chunk_size == size
    else:
        assert MIN_CHUNK <= plan.chunk_size <= MAX_CHUNK
    assert all(c == plan.chunk_size for c in chunks[:-1])
    assert plan.chunk_size <= chunks[-1] <= MAX_FINAL_CHUNK
    if size > MAX_CHUNK:
        assert len(chunks) > 1
