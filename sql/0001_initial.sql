-- studio-publish schema, version 1.
--
-- Safe on an empty database and on the web app's database, where
-- studio_social_posts may already exist holding posts fetched from the platforms.
-- It only creates what is missing and adds columns; it never drops or rewrites data.

CREATE TABLE IF NOT EXISTS studio_social_accounts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    platform text NOT NULL,
    platform_account_id text NOT NULL,
    name text,
    access_token text,
    refresh_token text,
    token_expires_at timestamptz,
    refresh_token_expires_at timestamptz,
    state text NOT NULL DEFAULT 'active',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The app may have its own accounts table already: add what we need.
ALTER TABLE studio_social_accounts
    ADD COLUMN IF NOT EXISTS name text,
    ADD COLUMN IF NOT EXISTS access_token text,
    ADD COLUMN IF NOT EXISTS refresh_token text,
    ADD COLUMN IF NOT EXISTS token_expires_at timestamptz,
    ADD COLUMN IF NOT EXISTS refresh_token_expires_at timestamptz,
    ADD COLUMN IF NOT EXISTS state text NOT NULL DEFAULT 'active',
    -- Per-account publishing options, e.g. {"tiktok_pull_from_url": true}.
    ADD COLUMN IF NOT EXISTS options jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Why the account needs re-authorisation (the platform's message, never a token).
    ADD COLUMN IF NOT EXISTS state_reason text,
    ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();

ALTER TABLE studio_social_accounts
    ADD CONSTRAINT studio_social_accounts_state_check
    CHECK (state IN ('active', 'needs_reauth', 'disabled')) NOT VALID;
ALTER TABLE studio_social_accounts VALIDATE CONSTRAINT studio_social_accounts_state_check;

CREATE TABLE IF NOT EXISTS studio_social_posts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    social_account_id uuid,
    platform text,
    caption text,
    scheduled_for timestamptz,
    posted_at timestamptz,
    external_post_id text,
    error_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Rows that exist now were fetched from the platforms by the web app. They are marked
-- 'fetched' by the column default at the moment the column is added (PostgreSQL fills
-- existing rows with it), and every later row defaults to 'scheduler'. A CHECK below
-- keeps fetched rows out of the publishing states for good.
ALTER TABLE studio_social_posts
    ADD COLUMN IF NOT EXISTS origin text NOT NULL DEFAULT 'fetched';
ALTER TABLE studio_social_posts ALTER COLUMN origin SET DEFAULT 'scheduler';

-- Same trick for status: existing rows are live posts fetched from the platforms.
ALTER TABLE studio_social_posts
    ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'posted';
ALTER TABLE studio_social_posts ALTER COLUMN status SET DEFAULT 'draft';

ALTER TABLE studio_social_posts
    ADD COLUMN IF NOT EXISTS workspace_id uuid,
    ADD COLUMN IF NOT EXISTS social_account_id uuid,
    ADD COLUMN IF NOT EXISTS platform text,
    ADD COLUMN IF NOT EXISTS post_type text,
    ADD COLUMN IF NOT EXISTS caption text,
    ADD COLUMN IF NOT EXISTS media jsonb,
    ADD COLUMN IF NOT EXISTS options jsonb,
    ADD COLUMN IF NOT EXISTS scheduled_for timestamptz,
    ADD COLUMN IF NOT EXISTS attempt_count integer,
    ADD COLUMN IF NOT EXISTS next_attempt_at timestamptz,
    ADD COLUMN IF NOT EXISTS last_publish_attempt_at timestamptz,
    ADD COLUMN IF NOT EXISTS last_publish_error text,
    ADD COLUMN IF NOT EXISTS error_message text,
    ADD COLUMN IF NOT EXISTS posted_at timestamptz,
    ADD COLUMN IF NOT EXISTS published_at timestamptz,
    ADD COLUMN IF NOT EXISTS platform_post_id text,
    ADD COLUMN IF NOT EXISTS permalink text,
    ADD COLUMN IF NOT EXISTS external_post_id text,
    ADD COLUMN IF NOT EXISTS created_at timestamptz,
    ADD COLUMN IF NOT EXISTS updated_at timestamptz,
    -- The engine's columns. claim_token fences every write of one attempt.
    ADD COLUMN IF NOT EXISTS claim_token uuid,
    ADD COLUMN IF NOT EXISTS claimed_by text,
    ADD COLUMN IF NOT EXISTS lease_expires_at timestamptz,
    ADD COLUMN IF NOT EXISTS attempt_started_at timestamptz,
    -- Platform ids of the attempts so far: Instagram container ids, TikTok publish_id,
    -- Facebook photo ids. Saved the moment each arrives.
    ADD COLUMN IF NOT EXISTS platform_state jsonb,
    -- Why a post is failed or needs review, as a short machine-readable word
    -- (missed, platform, max_attempts, lease_expired, ...).
    ADD COLUMN IF NOT EXISTS failure_reason text,
    -- publish --force makes a new copy of a posted post; this points to the original.
    ADD COLUMN IF NOT EXISTS republished_from uuid;

-- Defaults, so that a row the web app inserts with only the required columns is a
-- complete post. SET DEFAULT does not touch existing rows.
ALTER TABLE studio_social_posts
    ALTER COLUMN id SET DEFAULT gen_random_uuid(),
    ALTER COLUMN workspace_id SET DEFAULT '00000000-0000-0000-0000-000000000000',
    ALTER COLUMN caption SET DEFAULT '',
    ALTER COLUMN media SET DEFAULT '[]'::jsonb,
    ALTER COLUMN options SET DEFAULT '{}'::jsonb,
    ALTER COLUMN attempt_count SET DEFAULT 0,
    ALTER COLUMN platform_state SET DEFAULT '{}'::jsonb,
    ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN updated_at SET DEFAULT now();

ALTER TABLE studio_social_posts
    ADD CONSTRAINT studio_social_posts_status_check
    CHECK (status IN ('draft', 'scheduled', 'publishing', 'posted', 'failed',
                      'needs_review', 'cancelled')) NOT VALID;
ALTER TABLE studio_social_posts VALIDATE CONSTRAINT studio_social_posts_status_check;

ALTER TABLE studio_social_posts
    ADD CONSTRAINT studio_social_posts_origin_check
    CHECK (origin IN ('fetched', 'scheduler') AND (origin = 'scheduler' OR status = 'posted'))
    NOT VALID;
ALTER TABLE studio_social_posts VALIDATE CONSTRAINT studio_social_posts_origin_check;

-- A claimed post always carries its claim and lease; nothing else does.
ALTER TABLE studio_social_posts
    ADD CONSTRAINT studio_social_posts_claim_check
    CHECK ((status = 'publishing') = (claim_token IS NOT NULL AND lease_expires_at IS NOT NULL))
    NOT VALID;
ALTER TABLE studio_social_posts VALIDATE CONSTRAINT studio_social_posts_claim_check;

-- A post is due when it is scheduled and both scheduled_for and next_attempt_at (when
-- set) are past, i.e. when greatest(...) is past: GREATEST ignores NULLs. This partial
-- index holds only scheduled rows, so finding due posts never reads history.
CREATE INDEX IF NOT EXISTS studio_social_posts_due_idx
    ON studio_social_posts ((greatest(scheduled_for, next_attempt_at)), id)
    WHERE status = 'scheduled';

-- A scheduled post without a time could never become due: refuse it loudly instead.
ALTER TABLE studio_social_posts
    ADD CONSTRAINT studio_social_posts_scheduled_time_check
    CHECK (status <> 'scheduled' OR scheduled_for IS NOT NULL) NOT VALID;
ALTER TABLE studio_social_posts VALIDATE CONSTRAINT studio_social_posts_scheduled_time_check;

-- Finds abandoned claims.
CREATE INDEX IF NOT EXISTS studio_social_posts_lease_idx
    ON studio_social_posts (lease_expires_at)
    WHERE status = 'publishing';

-- What status counts: the live states only, so its cost does not grow with history.
CREATE INDEX IF NOT EXISTS studio_social_posts_active_idx
    ON studio_social_posts (status, platform, updated_at)
    WHERE status IN ('draft', 'scheduled', 'publishing', 'failed', 'needs_review');

-- Posts published recently (status shows the last 24 hours).
CREATE INDEX IF NOT EXISTS studio_social_posts_published_idx
    ON studio_social_posts (published_at)
    WHERE status = 'posted';

-- One row per live platform post: a second publish of the same post cannot be recorded.
CREATE UNIQUE INDEX IF NOT EXISTS studio_social_posts_platform_post_idx
    ON studio_social_posts (platform, platform_post_id);

CREATE INDEX IF NOT EXISTS studio_social_posts_account_idx
    ON studio_social_posts (social_account_id)
    WHERE status IN ('scheduled', 'publishing');

CREATE TABLE IF NOT EXISTS studio_publish_runs (
    id bigserial PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    host text,
    pid integer,
    command text NOT NULL DEFAULT 'run-due',
    -- running, ok (nothing failed), failed (a post failed for good), error (the run broke)
    outcome text NOT NULL DEFAULT 'running',
    claimed integer NOT NULL DEFAULT 0,
    posted integer NOT NULL DEFAULT 0,
    retried integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,
    needs_review integer NOT NULL DEFAULT 0,
    rescued integer NOT NULL DEFAULT 0,
    error text
);

CREATE INDEX IF NOT EXISTS studio_publish_runs_started_idx ON studio_publish_runs (started_at);

CREATE TABLE IF NOT EXISTS studio_publish_attempts (
    id bigserial PRIMARY KEY,
    post_id uuid NOT NULL REFERENCES studio_social_posts (id) ON DELETE CASCADE,
    run_id bigint REFERENCES studio_publish_runs (id) ON DELETE SET NULL,
    attempt_number integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    -- posted, retry, wait, reauth, failed, needs_review, rescued, lease_lost, running
    outcome text NOT NULL DEFAULT 'running',
    error_class text,
    error_message text,
    http_status integer,
    platform_ids jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX IF NOT EXISTS studio_publish_attempts_post_idx
    ON studio_publish_attempts (post_id, attempt_number);
CREATE INDEX IF NOT EXISTS studio_publish_attempts_started_idx
    ON studio_publish_attempts (started_at);
