-- name: preflight_candidates
-- Scheduled posts due within the preflight window and not checked in the last hour (or
-- never), soonest first, with what the checks need of their account. The quota fields
-- count the account's scheduled posts due in the 24 hours up to this post's time, this
-- one included: with the quota's room, that says whether it would have to wait.
-- counted_types: {platform: [post types]} for the platforms whose quota is counted.
-- due_before_token_expires: another of the account's posts is due while its token is still
-- valid, so run-due refreshes a token that refreshes itself (Threads', Instagram Login's)
-- then, before it expires.
SELECT p.*,
       a.id AS account_id, a.state AS account_state, a.token_expires_at,
       a.refresh_token IS NOT NULL AS has_refresh_token, a.refresh_token_expires_at,
       a.publishing_quota, a.options AS account_options,
       a.token_expires_at > now() AND EXISTS (
           SELECT 1 FROM studio_social_posts q
           WHERE q.social_account_id = p.social_account_id
             AND q.status = 'scheduled'
             AND q.scheduled_for < a.token_expires_at) AS due_before_token_expires,
       (SELECT count(*) FROM studio_social_posts q
        WHERE q.social_account_id = p.social_account_id
          AND q.status IN ('scheduled', 'publishing')
          AND q.scheduled_for > p.scheduled_for - interval '24 hours'
          AND (q.scheduled_for, q.id) <= (p.scheduled_for, p.id)
          -- A counted quota (Facebook's reels) counts its post types alone.
          AND (NOT %(counted_types)s::jsonb ? p.platform
               OR q.post_type IN (SELECT jsonb_array_elements_text(
                                      %(counted_types)s::jsonb -> p.platform)))
       ) AS due_in_window
FROM studio_social_posts p
JOIN studio_social_accounts a ON a.id = p.social_account_id
LEFT JOIN studio_publish_preflight f ON f.post_id = p.id
WHERE p.status = 'scheduled'
  AND p.scheduled_for > now()
  AND p.scheduled_for <= now() + make_interval(secs => %(window_seconds)s)
  AND (f.checked_at IS NULL OR f.checked_at < now() - interval '1 hour')
ORDER BY p.scheduled_for, p.id
LIMIT %(limit)s;

-- name: record_preflight
INSERT INTO studio_publish_preflight (post_id, checked_at, problems)
VALUES (%(post_id)s, now(), %(problems)s::jsonb)
ON CONFLICT (post_id) DO UPDATE SET checked_at = now(), problems = EXCLUDED.problems;

-- name: preflight_problems
-- Scheduled posts whose last preflight found a problem, soonest first.
SELECT p.id, p.platform, p.scheduled_for, f.checked_at, f.problems
FROM studio_publish_preflight f
JOIN studio_social_posts p ON p.id = f.post_id
WHERE p.status = 'scheduled' AND f.problems <> '[]'::jsonb
ORDER BY p.scheduled_for, p.id
LIMIT %(limit)s;

-- name: preflight_of_post
SELECT checked_at, problems FROM studio_publish_preflight WHERE post_id = %(id)s;
