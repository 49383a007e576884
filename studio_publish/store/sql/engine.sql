-- The publishing engine's state changes. Every write to a claimed post is fenced by
-- its state and its claim token: a run that lost its lease changes zero rows.

-- name: start_run
INSERT INTO studio_publish_runs (host, pid, command)
VALUES (%(host)s, %(pid)s, %(command)s)
RETURNING id, started_at;

-- name: finish_run
UPDATE studio_publish_runs
SET finished_at = now(), outcome = %(outcome)s, claimed = %(claimed)s, posted = %(posted)s,
    retried = %(retried)s, failed = %(failed)s, needs_review = %(needs_review)s,
    rescued = %(rescued)s, error = %(error)s
WHERE id = %(id)s;

-- name: mark_missed
-- scheduled -> failed (missed): first found due long after its time, e.g. cron was down.
-- Only a post never tried (next_attempt_at is NULL): retries and retry-failed set it.
UPDATE studio_social_posts
SET status = %(to_state)s, failure_reason = 'missed',
    last_publish_error = 'not published: first found due ' ||
        date_trunc('second', now() - scheduled_for) || ' after its time (more than ' ||
        make_interval(secs => %(max_lateness)s) || '); retry-failed sends it',
    updated_at = now()
WHERE status = ANY(%(from_states)s::text[])
  AND next_attempt_at IS NULL
  AND scheduled_for < now() - make_interval(secs => %(max_lateness)s)
  AND (%(only_ids)s::uuid[] IS NULL OR id = ANY(%(only_ids)s::uuid[]))
RETURNING id, platform;

-- name: lock_due_accounts
-- The first statement of a claim (one transaction with claim_due_posts): lock up to
-- `limit` active accounts that have a post due and room for another in flight, those with
-- the fewest in flight first, then the longest waiting, then (among posts due at the same
-- moment, as a web app's 9:00 batch is) the one with the most posts due: its chain of
-- posts in order is the longest, and starting it last would leave the run's slots idle
-- at the end while it finishes alone (bench/README.md, "punctual"). A run claiming at the
-- same moment skips them (SKIP LOCKED) and takes other accounts, so two runs never both see room for
-- the same account's post. NO KEY UPDATE: the web app's inserts of posts never wait for it.
WITH first_due AS (
    SELECT social_account_id AS account_id,
           min(greatest(scheduled_for, next_attempt_at)) AS due_at, count(*) AS due_posts
    FROM studio_social_posts
    WHERE status = ANY(%(from_states)s::text[])
      AND greatest(scheduled_for, next_attempt_at) <= now()
      AND (%(only_ids)s::uuid[] IS NULL OR id = ANY(%(only_ids)s::uuid[]))
    GROUP BY social_account_id
), in_flight AS (
    SELECT social_account_id AS account_id, count(*) AS posts
    FROM studio_social_posts
    WHERE status = 'publishing'
    GROUP BY social_account_id
), candidates AS MATERIALIZED (
    SELECT d.account_id, d.due_at, d.due_posts, coalesce(f.posts, 0) AS posts
    FROM first_due d
    LEFT JOIN in_flight f USING (account_id)
    WHERE coalesce(f.posts, 0) < %(account_concurrency)s
), locked AS MATERIALIZED (
    SELECT a.id
    FROM studio_social_accounts a
    JOIN candidates c ON c.account_id = a.id
    WHERE a.state = 'active'
    ORDER BY c.posts, c.due_at, c.due_posts DESC, a.id
    LIMIT %(limit)s
    FOR NO KEY UPDATE OF a SKIP LOCKED
)
-- The locked accounts, then the posts' account ids that name no account at all (NULL
-- among them): such posts are claimed too, so that they fail visibly instead of waiting.
-- Last, a row with orphan NULL when another claim held accounts this one wanted (an active
-- candidate left unlocked with the limit not reached): their locks last that claim's
-- transaction, a few milliseconds, so the run asks again (EngineStore.claim_due).
SELECT id AS account_id, false AS orphan FROM locked
UNION ALL
SELECT c.account_id, true FROM candidates c
WHERE NOT EXISTS (SELECT 1 FROM studio_social_accounts a WHERE a.id = c.account_id)
UNION ALL
SELECT NULL, NULL
WHERE (SELECT count(*) FROM locked) < %(limit)s
  AND EXISTS (
      SELECT 1 FROM candidates c JOIN studio_social_accounts a ON a.id = c.account_id
      WHERE a.state = 'active' AND c.account_id NOT IN (SELECT id FROM locked)
  );

-- name: claim_due_posts
-- scheduled -> publishing, counting the attempt, for the accounts lock_due_accounts locked
-- (its statement ran first, so this one's snapshot sees every claim committed before the
-- locks were ours). Per account: at most account_concurrency posts in flight, counting those
-- of every other run, taken in the order of scheduled_for, then created_at. Across accounts
-- they interleave: every account's first post before any account's second, so one account's
-- backlog never holds up another's post by more than a claim round. A post with no account
-- at all is claimed, so that it fails visibly instead of waiting forever.
WITH in_flight AS (
    SELECT social_account_id, count(*) AS posts
    FROM studio_social_posts
    WHERE status = 'publishing' AND social_account_id = ANY(%(accounts)s::uuid[])
    GROUP BY social_account_id
), ranked AS (
    SELECT p.id, p.social_account_id, greatest(p.scheduled_for, p.next_attempt_at) AS due_at,
           row_number() OVER (PARTITION BY p.social_account_id
                              ORDER BY p.scheduled_for, p.created_at, p.id) AS place,
           count(*) OVER (PARTITION BY p.social_account_id) AS due_posts
    FROM studio_social_posts p
    WHERE p.status = ANY(%(from_states)s::text[])
      AND greatest(p.scheduled_for, p.next_attempt_at) <= now()
      AND p.social_account_id = ANY(%(accounts)s::uuid[])
      AND (%(only_ids)s::uuid[] IS NULL OR p.id = ANY(%(only_ids)s::uuid[]))
    UNION ALL
    -- Posts naming no account: only looked for when lock_due_accounts found some.
    SELECT p.id, NULL, greatest(p.scheduled_for, p.next_attempt_at), 1, 1
    FROM studio_social_posts p
    WHERE %(orphans)s::boolean
      AND p.status = ANY(%(from_states)s::text[])
      AND greatest(p.scheduled_for, p.next_attempt_at) <= now()
      AND (p.social_account_id IS NULL OR p.social_account_id = ANY(%(orphan_ids)s::uuid[]))
      AND (%(only_ids)s::uuid[] IS NULL OR p.id = ANY(%(only_ids)s::uuid[]))
), due AS MATERIALIZED (
    SELECT r.id, r.place + coalesce(i.posts, 0) AS turn, r.due_at, r.social_account_id,
           r.due_posts
    FROM ranked r
    LEFT JOIN in_flight i ON i.social_account_id = r.social_account_id
    WHERE r.social_account_id IS NULL
       OR r.place <= %(account_concurrency)s - coalesce(i.posts, 0)
    ORDER BY turn, r.due_at, r.id
    LIMIT %(limit)s
), locked AS MATERIALIZED (
    -- MATERIALIZED, so the planner cannot turn LIMIT + SKIP LOCKED into more rows.
    SELECT p.id FROM studio_social_posts p
    WHERE p.id IN (SELECT id FROM due)
    FOR UPDATE OF p SKIP LOCKED
), claimed AS (
    UPDATE studio_social_posts p
    SET status = %(to_state)s, claim_token = gen_random_uuid(), claimed_by = %(worker)s,
        lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
        attempt_count = p.attempt_count + 1, attempt_started_at = now(),
        last_publish_attempt_at = now(), updated_at = now()
    FROM locked
    WHERE p.id = locked.id AND p.status = ANY(%(from_states)s::text[])
    RETURNING p.*
), attempt AS (
    INSERT INTO studio_publish_attempts (post_id, run_id, attempt_number, started_at)
    SELECT id, %(run_id)s, attempt_count, attempt_started_at FROM claimed
)
-- In the order they were chosen: the run starts them in this order (some wait for a slot).
-- more_due: the post's account has due posts this claim left (held back by
-- account_concurrency), so the post's end makes room for another (engine/run.py).
SELECT claimed.*,
       due.social_account_id IS NOT NULL
       AND due.due_posts > count(*) OVER (PARTITION BY due.social_account_id) AS more_due
FROM claimed JOIN due USING (id) ORDER BY due.turn, due.due_at, due.id;

-- name: release_claims
-- publishing -> scheduled: posts a run claimed ahead of a free slot and never started (its
-- budget ran out first). Nothing was sent for them, so the claim is undone: the attempt is
-- given back and its attempt row, which never began, is removed. The next run claims them
-- as if this one never had.
WITH released AS (
    UPDATE studio_social_posts
    SET status = %(to_state)s, attempt_count = attempt_count - 1, claim_token = NULL,
        lease_expires_at = NULL, claimed_by = NULL, updated_at = now()
    WHERE status = ANY(%(from_states)s::text[]) AND claim_token = ANY(%(claims)s::uuid[])
    RETURNING id, attempt_count + 1 AS attempt
), attempt AS (
    DELETE FROM studio_publish_attempts t
    USING released
    WHERE t.post_id = released.id AND t.attempt_number = released.attempt
)
SELECT id FROM released;

-- name: claim_post_now
-- scheduled, draft or failed -> publishing: `publish POST_ID`, whatever its time.
WITH claimed AS (
    UPDATE studio_social_posts p
    SET status = %(to_state)s, claim_token = gen_random_uuid(), claimed_by = %(worker)s,
        lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
        attempt_count = p.attempt_count + 1, attempt_started_at = now(),
        last_publish_attempt_at = now(), failure_reason = NULL, updated_at = now()
    WHERE p.id = %(id)s AND p.status = ANY(%(from_states)s::text[])
      AND EXISTS (SELECT 1 FROM studio_social_accounts a
                  WHERE a.id = p.social_account_id AND a.state = 'active')
    RETURNING p.*
), attempt AS (
    INSERT INTO studio_publish_attempts (post_id, run_id, attempt_number, started_at)
    SELECT id, %(run_id)s, attempt_count, attempt_started_at FROM claimed
)
SELECT * FROM claimed;

-- name: claim_abandoned
-- publishing (lease ran out) -> publishing under a new claim, to be settled by this run.
-- The attempt is not counted again: the dead run's attempt is the one being settled.
WITH stale AS MATERIALIZED (
    SELECT id FROM studio_social_posts
    WHERE status = 'publishing' AND lease_expires_at < now()
    ORDER BY lease_expires_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE studio_social_posts p
SET claim_token = gen_random_uuid(), claimed_by = %(worker)s,
    lease_expires_at = now() + make_interval(secs => %(lease_seconds)s), updated_at = now()
FROM stale
WHERE p.id = stale.id AND p.status = 'publishing' AND p.lease_expires_at < now()
RETURNING p.*;

-- name: get_accounts_for_publish
-- The accounts of claimed posts: read with the claim (one statement for a claim round, not
-- one per post).
SELECT id, workspace_id, platform, platform_account_id, access_token, refresh_token, token_expires_at,
       refresh_token_expires_at, options, state
FROM studio_social_accounts
WHERE id = ANY(%(ids)s::uuid[]);

-- name: save_platform_ids
-- Saves platform ids the moment they arrive, and renews the lease. One statement for every
-- post in flight that saves at the same moment (store/batch.py): `rows` is a JSON array,
-- an object a post: its id, its claim and the ids to save (doc). Returns the posts whose
-- claim still held.
WITH given AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS g(id uuid, claim uuid, doc jsonb)
), saved AS (
    UPDATE studio_social_posts p
    -- A null value clears a key (e.g. a spoilt Instagram container).
    SET platform_state = jsonb_strip_nulls(coalesce(p.platform_state, '{}'::jsonb) || g.doc),
        lease_expires_at = now() + make_interval(secs => %(lease_seconds)s)
    FROM given g
    WHERE p.id = g.id AND p.status = 'publishing' AND p.claim_token = g.claim
    RETURNING p.id, p.attempt_count, g.doc
), attempt AS (
    UPDATE studio_publish_attempts t
    SET platform_ids = t.platform_ids || saved.doc
    FROM saved
    WHERE t.post_id = saved.id AND t.attempt_number = saved.attempt_count
    RETURNING t.id
)
-- The post's row, whether or not its attempt row still exists (db prune).
SELECT id FROM saved;

-- name: renew_leases
-- The run's heartbeat: keeps the claims of posts still in flight.
UPDATE studio_social_posts
SET lease_expires_at = now() + make_interval(secs => %(lease_seconds)s)
WHERE status = 'publishing' AND claim_token = ANY(%(claims)s::uuid[])
RETURNING id;

-- name: finish_attempt
-- publishing -> posted, scheduled (retry later, wait, or hold for re-authorisation), failed
-- or needs_review: what studio_publish/engine/outcomes.py decided, recorded on the post and its
-- attempt row in one statement. give_back returns the attempt when the failure was not
-- the post's doing. `rows` is a JSON array, an object a post (store/batch.py sends the
-- outcomes of posts finishing at the same moment together); each carries its move's guard
-- (from_states, to_states, from states.MOVES). Returns the posts whose claim still held.
WITH given AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS g(
        id uuid, claim uuid, from_states text[], to_states text[], to_state text,
        outcome text, reason text, error text, error_class text, http_status integer,
        delay_seconds float8, give_back boolean, platform_post_id text, permalink text,
        platform_ids jsonb)
), done AS (
    UPDATE studio_social_posts p
    SET status = g.to_state,
        platform_post_id = CASE WHEN g.to_state = 'posted' THEN g.platform_post_id
                                ELSE p.platform_post_id END,
        permalink = CASE WHEN g.to_state = 'posted' THEN g.permalink ELSE p.permalink END,
        published_at = CASE WHEN g.to_state = 'posted' THEN now() ELSE p.published_at END,
        posted_at = CASE WHEN g.to_state = 'posted' THEN coalesce(p.posted_at, now())
                         ELSE p.posted_at END,
        next_attempt_at = CASE WHEN g.to_state = 'scheduled'
                               THEN now() + make_interval(secs => g.delay_seconds) END,
        attempt_count = p.attempt_count - CASE WHEN g.give_back THEN 1 ELSE 0 END,
        failure_reason = CASE WHEN g.to_state = 'scheduled' THEN p.failure_reason
                              ELSE g.reason END,
        last_publish_error = CASE WHEN g.to_state = 'posted' THEN p.last_publish_error
                                  ELSE g.error END,
        error_message = CASE WHEN g.to_state IN ('failed', 'needs_review') THEN g.error
                             ELSE p.error_message END,
        claim_token = NULL, lease_expires_at = NULL, claimed_by = NULL, updated_at = now()
    FROM given g
    WHERE p.id = g.id AND p.status = ANY(g.from_states) AND p.claim_token = g.claim
      AND g.to_state = ANY(g.to_states)
    RETURNING p.id, p.options, g.to_state, g.outcome, g.error, g.error_class, g.http_status,
              g.platform_ids,
              p.attempt_count + CASE WHEN g.give_back THEN 1 ELSE 0 END AS attempt
), first_comment AS (
    -- A posted post's first comment (options.first_comment, checked at the engine's door),
    -- due at once: in the same statement, so no posted post loses its comment.
    INSERT INTO studio_publish_comments (post_id, message)
    SELECT id, options ->> 'first_comment' FROM done
    WHERE to_state = 'posted' AND jsonb_typeof(options -> 'first_comment') = 'string'
    ON CONFLICT (post_id) DO NOTHING
), attempt AS (
    UPDATE studio_publish_attempts t
    SET finished_at = now(), outcome = done.outcome, error_class = done.error_class,
        error_message = done.error, http_status = done.http_status,
        platform_ids = t.platform_ids || done.platform_ids
    FROM done
    WHERE t.post_id = done.id AND t.attempt_number = done.attempt
    RETURNING t.id
)
-- The posts' rows, whether or not their attempt rows still exist (db prune).
SELECT id FROM done;

-- name: record_late_outcome
-- The claim was lost (another run rescued the post) but this attempt learned something:
-- keep it in the attempt history for the person reviewing, without touching the post.
UPDATE studio_publish_attempts
SET finished_at = coalesce(finished_at, now()),
    error_message = coalesce(error_message || ' | ', '') || %(note)s,
    platform_ids = platform_ids || %(ids)s::jsonb
WHERE post_id = %(id)s AND attempt_number = %(attempt)s;

-- name: mark_account_needs_reauth
UPDATE studio_social_accounts
SET state = 'needs_reauth', state_reason = %(reason)s, updated_at = now()
WHERE id = %(id)s AND state = 'active'
RETURNING id;

-- name: lock_account_for_refresh
SELECT id, platform, platform_account_id, access_token, refresh_token, token_expires_at,
       refresh_token_expires_at, options, state
FROM studio_social_accounts
WHERE id = %(id)s
FOR UPDATE;

-- name: save_refreshed_tokens
UPDATE studio_social_accounts
SET access_token = %(access_token)s,
    refresh_token = coalesce(%(refresh_token)s, refresh_token),
    token_expires_at = %(token_expires_at)s,
    refresh_token_expires_at = coalesce(%(refresh_token_expires_at)s, refresh_token_expires_at),
    updated_at = now()
WHERE id = %(id)s;

-- name: copy_post_for_republish
-- publish --force: a new copy of a posted post, published as a post of its own.
INSERT INTO studio_social_posts
    (workspace_id, social_account_id, platform, post_type, caption, media, options,
     scheduled_for, status, republished_from)
SELECT workspace_id, social_account_id, platform, post_type, caption, media, options,
       now(), %(to_state)s, id
FROM studio_social_posts
WHERE id = %(id)s AND status = ANY(%(from_states)s::text[]) AND origin = 'scheduler'
RETURNING id;

-- name: retry_failed_posts
-- failed -> scheduled, due now, with a fresh set of attempts. The saved platform ids are
-- cleared: a failed post is known not to be live (they stay in the attempt history).
UPDATE studio_social_posts
SET status = %(to_state)s, next_attempt_at = now(), attempt_count = 0, failure_reason = NULL,
    platform_state = '{}'::jsonb, updated_at = now()
WHERE status = ANY(%(from_states)s::text[])
  AND (%(ids)s::uuid[] IS NULL OR id = ANY(%(ids)s::uuid[]))
  AND (%(platform)s::text IS NULL OR platform = %(platform)s)
  AND (%(account)s::uuid IS NULL OR social_account_id = %(account)s)
  AND (%(since)s::timestamptz IS NULL OR updated_at >= %(since)s)
RETURNING id, platform;

-- name: confirm_not_live
-- needs_review -> scheduled: a person checked the platform and the post is not there.
UPDATE studio_social_posts
SET status = %(to_state)s, next_attempt_at = now(), attempt_count = 0, failure_reason = NULL,
    platform_state = '{}'::jsonb, updated_at = now()
WHERE id = ANY(%(ids)s::uuid[]) AND status = ANY(%(from_states)s::text[])
RETURNING id, platform;

-- name: due_posts_preview
-- run-due --dry-run: what is due, read without locking or writing.
SELECT p.id, p.platform, p.post_type, p.scheduled_for, p.next_attempt_at, p.attempt_count,
       p.platform_state, p.workspace_id, p.caption, p.media, p.options,
       greatest(p.scheduled_for, p.next_attempt_at) AS due_at,
       p.next_attempt_at IS NULL
           AND p.scheduled_for < now() - make_interval(secs => %(max_lateness)s) AS missed,
       a.id AS account_id, a.state AS account_state, a.platform AS account_platform,
       a.workspace_id AS account_workspace_id, a.platform_account_id,
       a.access_token, a.refresh_token,  -- for the engine's own check (attempt.admit), never shown
       a.token_expires_at, a.token_expires_at IS NOT NULL AND a.token_expires_at <= now()
           AS token_expired
FROM studio_social_posts p
LEFT JOIN studio_social_accounts a ON a.id = p.social_account_id
WHERE p.status = 'scheduled' AND greatest(p.scheduled_for, p.next_attempt_at) <= now()
ORDER BY greatest(p.scheduled_for, p.next_attempt_at), p.id
LIMIT %(limit)s;

-- name: abandoned_preview
SELECT id, platform, claimed_by, lease_expires_at, platform_state
FROM studio_social_posts
WHERE status = 'publishing' AND lease_expires_at < now()
ORDER BY lease_expires_at
LIMIT %(limit)s;

-- name: count_posted_in_window
-- A counted quota (platforms/spec.py, CountedQuota): the account's posts of these types that
-- went live in the moving window, plus those of them other claims are publishing now; and
-- in how many seconds the oldest live one leaves the window (NULL: none is live).
SELECT count(*) AS used,
       extract(epoch FROM min(published_at) FILTER (WHERE status = 'posted')
                          + make_interval(secs => %(window_seconds)s) - now()) AS frees_in
FROM studio_social_posts
WHERE social_account_id = %(account_id)s
  AND post_type = ANY(%(post_types)s::text[])
  AND id <> %(post_id)s
  AND ((status = 'posted'
        AND published_at > now() - make_interval(secs => %(window_seconds)s))
       OR status = 'publishing');

-- name: save_publishing_quotas
-- Each account's publishing quota as a run's last attempt left it, for `status`: `rows` is a
-- JSON array of {id, quota: {used, total}}, every account of the run in one statement.
UPDATE studio_social_accounts a
SET publishing_quota = g.quota || jsonb_build_object('checked_at', now())
FROM jsonb_to_recordset(%(rows)s::jsonb) AS g(id uuid, quota jsonb)
WHERE a.id = g.id;

-- name: confirm_live
-- needs_review -> posted: a person found the post live on the platform. Its first comment,
-- if it has one, is due then, as for a post the engine recorded posted (finish_attempt).
WITH confirmed AS (
    UPDATE studio_social_posts
    SET status = %(to_state)s, platform_post_id = %(platform_post_id)s, permalink = %(permalink)s,
        published_at = coalesce(published_at, now()), posted_at = coalesce(posted_at, now()),
        failure_reason = NULL, updated_at = now()
    WHERE id = %(id)s AND status = ANY(%(from_states)s::text[])
    RETURNING id, status, platform_post_id, permalink, options
), first_comment AS (
    INSERT INTO studio_publish_comments (post_id, message)
    SELECT id, options ->> 'first_comment' FROM confirmed
    WHERE jsonb_typeof(options -> 'first_comment') = 'string'
    ON CONFLICT (post_id) DO NOTHING
)
SELECT id, status, platform_post_id, permalink FROM confirmed;
