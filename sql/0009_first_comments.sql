-- studio-publish schema, version 9: first comments (`--first-comment`, options.first_comment).
--
-- A comment the account posts under its own post once the post is live. It has a life of
-- its own after the post is `posted`: retried with backoff, claimed with a lease by one run
-- at a time, looked for on the platform after an unclear answer. It lives here, one row a
-- post, not in the post's columns: the post's claim (claim_token, lease_expires_at) means
-- "being published", and nothing about a comment may ever claim the post again.
--
-- The row is written by the same statement that records the post `posted`
-- (finish_attempt), so a posted post with a first comment always has its row.

CREATE TABLE IF NOT EXISTS studio_publish_comments (
    post_id uuid PRIMARY KEY REFERENCES studio_social_posts (id) ON DELETE CASCADE,
    message text NOT NULL,
    -- pending (due at next_attempt_at), sending (claimed by a run until lease_expires_at),
    -- posted (comment_id holds the platform's id) or failed (error says why).
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sending', 'posted', 'failed')),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claim_token uuid,
    lease_expires_at timestamptz,
    -- Set just before the comment is sent and cleared by a clear answer: while set, the
    -- comment may be on the platform, and is looked for there before it is sent again.
    sent_at timestamptz,
    comment_id text,
    -- The platform's intermediate ids (a Threads reply's container).
    platform_state jsonb NOT NULL DEFAULT '{}'::jsonb,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    posted_at timestamptz
);

-- What the due-comment claim scans: only comments still to do.
CREATE INDEX IF NOT EXISTS studio_publish_comments_due_idx
    ON studio_publish_comments (next_attempt_at)
    WHERE state IN ('pending', 'sending');
