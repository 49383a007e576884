-- Every query here reads through a partial index on the live states, so status costs the
-- same on a table holding a million published posts as on an empty one.

-- name: count_active_by_state
SELECT status, platform, count(*) AS posts
FROM studio_social_posts
WHERE status IN ('draft', 'scheduled', 'publishing', 'failed', 'needs_review')
GROUP BY status, platform
ORDER BY status, platform;

-- name: count_posted_recently
SELECT platform, count(*) AS posts
FROM studio_social_posts
WHERE status = 'posted' AND published_at > now() - interval '24 hours'
GROUP BY platform
ORDER BY platform;

-- name: next_due
SELECT id, platform, post_type, greatest(scheduled_for, next_attempt_at) AS due_at,
       attempt_count, left(caption, 60) AS caption
FROM studio_social_posts
WHERE status = 'scheduled'
ORDER BY greatest(scheduled_for, next_attempt_at), id
LIMIT %(limit)s;

-- name: overdue
-- Due for longer than the grace period: a sign that cron is not running. Posts held for
-- their account's re-authorisation are not: they are counted by held_posts_by_account.
-- total counts every overdue post, beyond the LIMIT.
SELECT id, platform, post_type, greatest(scheduled_for, next_attempt_at) AS due_at,
       attempt_count, now() - greatest(scheduled_for, next_attempt_at) AS overdue_by,
       count(*) OVER () AS total
FROM studio_social_posts p
WHERE status = 'scheduled'
  AND greatest(scheduled_for, next_attempt_at) < now() - make_interval(secs => %(grace_seconds)s)
  AND NOT EXISTS (SELECT 1 FROM studio_social_accounts a
                  WHERE a.id = p.social_account_id AND a.state = 'needs_reauth')
ORDER BY greatest(scheduled_for, next_attempt_at), id
LIMIT %(limit)s;

-- name: stuck_publishing
-- Claimed by a run whose lease ran out (more than grace_seconds ago): the next run-due
-- rescues them. total counts them all, beyond the LIMIT.
SELECT id, platform, claimed_by, lease_expires_at, attempt_count, count(*) OVER () AS total
FROM studio_social_posts
WHERE status = 'publishing'
  AND lease_expires_at < now() - make_interval(secs => %(grace_seconds)s)
ORDER BY lease_expires_at
LIMIT %(limit)s;

-- name: needs_review
SELECT id, platform, post_type, updated_at, failure_reason, last_publish_error, platform_state,
       count(*) OVER () AS total
FROM studio_social_posts
WHERE status = 'needs_review'
ORDER BY updated_at DESC, id
LIMIT %(limit)s;

-- name: recent_failures
SELECT id, platform, post_type, updated_at, attempt_count, failure_reason, last_publish_error
FROM studio_social_posts
WHERE status = 'failed'
ORDER BY updated_at DESC, id
LIMIT %(limit)s;

-- name: last_run
SELECT id, started_at, finished_at, outcome, claimed, posted, retried, failed, needs_review,
       rescued, error, host, pid
FROM studio_publish_runs
ORDER BY started_at DESC, id DESC
LIMIT 1;

-- name: accounts_needing_attention
-- Accounts a person must act on: re-authorisation, or a token that expires soon.
-- expires_at is the expiry that matters: where run-due refreshes access tokens (the
-- platforms in %(refreshing)s, from the registry), it is the refresh token's.
SELECT id, platform, name, state, state_reason, token_expires_at, expires_at
FROM (
    SELECT *, CASE WHEN platform = ANY(%(refreshing)s::text[]) AND refresh_token IS NOT NULL
                   THEN refresh_token_expires_at ELSE token_expires_at END AS expires_at
    FROM studio_social_accounts
) accounts
WHERE state <> 'active' OR expires_at < now() + make_interval(days => %(expiry_days)s)
ORDER BY platform, name;

-- name: held_posts_by_account
-- Scheduled posts that wait for their account to be re-authorised (run-due skips them).
SELECT p.social_account_id AS account_id, count(*) AS posts
FROM studio_social_posts p
JOIN studio_social_accounts a ON a.id = p.social_account_id
WHERE p.status = 'scheduled' AND a.state = 'needs_reauth'
  AND (%(account)s::uuid IS NULL OR a.id = %(account)s::uuid)
GROUP BY p.social_account_id;

-- name: post_attempts
SELECT attempt_number, started_at, finished_at, outcome, error_class, error_message,
       http_status, platform_ids
FROM studio_publish_attempts
WHERE post_id = %(id)s
ORDER BY attempt_number, id;

-- name: publishing_quotas
-- The publishing quota each account had when run-due last read it (platforms with one).
SELECT id, platform, name, platform_account_id,
       (publishing_quota ->> 'used')::int AS used,
       (publishing_quota ->> 'total')::int AS total,
       (publishing_quota ->> 'total')::int - (publishing_quota ->> 'used')::int AS left_24h,
       (publishing_quota ->> 'checked_at')::timestamptz AS checked_at
FROM studio_social_accounts
WHERE publishing_quota IS NOT NULL
ORDER BY platform, name, id;
