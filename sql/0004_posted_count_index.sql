-- `status` counts the posts published in the last 24 hours per platform. With the platform
-- in the index, that count is an index-only scan: it reads no table pages, so its cost
-- follows the last day's volume, not where history happens to lie on disk.
CREATE INDEX IF NOT EXISTS studio_social_posts_published_platform_idx
    ON studio_social_posts (published_at) INCLUDE (platform)
    WHERE status = 'posted';
DROP INDEX IF EXISTS studio_social_posts_published_idx;
