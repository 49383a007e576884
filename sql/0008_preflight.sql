-- studio-publish schema, version 8: preflight, what would make a scheduled post fail.
--
-- run-due checks the posts due in the next STUDIO_PUBLISH_PREFLIGHT_HOURS (at most once a
-- post an hour) and keeps what it found here, one row a post: status --check and
-- status POST_ID read it. Nothing here changes the post itself.

CREATE TABLE IF NOT EXISTS studio_publish_preflight (
    post_id uuid PRIMARY KEY REFERENCES studio_social_posts (id) ON DELETE CASCADE,
    checked_at timestamptz NOT NULL DEFAULT now(),
    -- What was found: [{"cause": "token" | "media" | "quota" | "account", "message": ...}];
    -- [] when all was well.
    problems jsonb NOT NULL DEFAULT '[]'::jsonb
);

CREATE INDEX IF NOT EXISTS studio_publish_preflight_checked_idx
    ON studio_publish_preflight (checked_at);
