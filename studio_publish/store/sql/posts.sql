-- Every state change names the states it may come from (from_states) and the state it goes
-- to (to_state), both given from studio_publish/states.py MOVES: an illegal one changes zero
-- rows.

-- name: insert_post
INSERT INTO studio_social_posts
    (workspace_id, social_account_id, platform, post_type, caption, media, options,
     scheduled_for, status)
SELECT a.workspace_id, a.id, a.platform, %(post_type)s, %(caption)s, %(media)s, %(options)s,
       %(scheduled_for)s, %(status)s
FROM studio_social_accounts a
WHERE a.id = %(account_id)s
RETURNING id, platform, post_type, status, scheduled_for;

-- name: get_post
SELECT p.*, a.name AS account_name, a.platform_account_id, a.state AS account_state,
       a.state_reason AS account_state_reason
FROM studio_social_posts p
LEFT JOIN studio_social_accounts a ON a.id = p.social_account_id
WHERE p.id = %(id)s;

-- name: reschedule_post
-- draft, scheduled or failed -> scheduled at a new time, with a fresh set of attempts.
-- A failed post is known not to be live: its platform ids (kept in the attempt history)
-- are cleared so the next attempt starts afresh. A scheduled post keeps them: it may be
-- waiting to resume an earlier attempt.
UPDATE studio_social_posts
SET status = %(to_state)s, scheduled_for = %(scheduled_for)s, next_attempt_at = NULL,
    attempt_count = 0, failure_reason = NULL, updated_at = now(),
    platform_state = CASE WHEN status = 'failed' THEN '{}'::jsonb ELSE platform_state END
WHERE id = %(id)s AND status = ANY(%(from_states)s::text[]) AND origin = 'scheduler'
RETURNING id, status, scheduled_for;

-- name: cancel_post
-- draft or scheduled -> cancelled.
UPDATE studio_social_posts
SET status = %(to_state)s, next_attempt_at = NULL, updated_at = now()
WHERE id = %(id)s AND status = ANY(%(from_states)s::text[])
RETURNING id, status;
