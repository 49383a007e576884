-- First comments (sql/0009_first_comments.sql, studio_publish/engine/comments.py). Every
-- write to a claimed comment is fenced by its state and its claim token: a run that lost
-- the claim changes zero rows. Nothing here touches the post: it stays `posted`.

-- name: claim_due_comments
-- pending (due) -> sending, or sending past its lease (its run died) -> sending under a new
-- claim; counting the try. Only under a posted post whose account is active: a comment
-- waits while its account needs re-authorisation.
WITH due AS MATERIALIZED (
    SELECT c.post_id
    FROM studio_publish_comments c
    JOIN studio_social_posts p ON p.id = c.post_id AND p.status = 'posted'
    JOIN studio_social_accounts a ON a.id = p.social_account_id AND a.state = 'active'
    WHERE ((c.state = 'pending' AND c.next_attempt_at <= now())
           OR (c.state = 'sending' AND c.lease_expires_at < now()))
      AND (%(only_ids)s::uuid[] IS NULL OR c.post_id = ANY(%(only_ids)s::uuid[]))
    ORDER BY c.next_attempt_at, c.post_id
    LIMIT %(limit)s
    FOR UPDATE OF c SKIP LOCKED
)
UPDATE studio_publish_comments c
SET state = 'sending', claim_token = gen_random_uuid(),
    lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
    attempts = c.attempts + 1, updated_at = now()
FROM due, studio_social_posts p
WHERE c.post_id = due.post_id AND p.id = c.post_id
RETURNING c.post_id, c.message, c.attempts, c.claim_token, c.sent_at, c.platform_state,
          p.platform, p.platform_post_id, p.platform_state AS post_state,
          p.social_account_id, now() AS db_now;

-- name: save_comment_state
-- The comment's intermediate ids (a null value clears a key) and, with sent, the mark that
-- it is about to go out; renews the lease.
UPDATE studio_publish_comments
SET platform_state = jsonb_strip_nulls(platform_state || %(ids)s::jsonb),
    sent_at = CASE WHEN %(sent)s THEN now() ELSE sent_at END,
    lease_expires_at = now() + make_interval(secs => %(lease_seconds)s), updated_at = now()
WHERE post_id = %(id)s AND state = 'sending' AND claim_token = %(claim)s
RETURNING post_id;

-- name: finish_comment
-- sending -> posted, pending (tried again after delay_seconds) or failed: what
-- engine/comments.py decided, in one statement. keep_sent keeps the mark of a send whose
-- answer was lost, so that the next try looks for the comment before sending it again.
UPDATE studio_publish_comments
SET state = %(to_state)s,
    comment_id = coalesce(%(comment_id)s, comment_id),
    posted_at = CASE WHEN %(to_state)s = 'posted' THEN now() END,
    next_attempt_at = CASE WHEN %(to_state)s = 'pending'
                           THEN now() + make_interval(secs => %(delay_seconds)s)
                           ELSE next_attempt_at END,
    attempts = attempts - CASE WHEN %(give_back)s THEN 1 ELSE 0 END,
    sent_at = CASE WHEN %(keep_sent)s THEN sent_at END,
    error = CASE WHEN %(to_state)s = 'posted' THEN NULL ELSE %(error)s END,
    claim_token = NULL, lease_expires_at = NULL, updated_at = now()
WHERE post_id = %(id)s AND state = 'sending' AND claim_token = %(claim)s
  AND %(to_state)s IN ('pending', 'posted', 'failed')
RETURNING post_id;

-- name: comment_of_post
-- `status POST_ID`: the post's first comment, if it has one.
SELECT message, state, attempts, next_attempt_at, sent_at, comment_id, error, posted_at,
       updated_at
FROM studio_publish_comments
WHERE post_id = %(id)s;

-- name: failed_comments
-- `status`: first comments that failed for good (their posts are posted), newest first.
SELECT c.post_id AS id, p.platform, c.updated_at, c.attempts, c.error
FROM studio_publish_comments c
JOIN studio_social_posts p ON p.id = c.post_id
WHERE c.state = 'failed'
ORDER BY c.updated_at DESC
LIMIT %(limit)s;

-- name: due_comments_preview
-- run-due --dry-run: the first comments a run would take up, read without locking.
SELECT c.post_id AS id, p.platform, c.state, c.attempts,
       CASE WHEN c.sent_at IS NOT NULL
            THEN 'look for it on the platform (its answer was lost), then send it if absent'
            ELSE 'send it' END AS would
FROM studio_publish_comments c
JOIN studio_social_posts p ON p.id = c.post_id AND p.status = 'posted'
WHERE (c.state = 'pending' AND c.next_attempt_at <= now())
   OR (c.state = 'sending' AND c.lease_expires_at < now())
ORDER BY c.next_attempt_at, c.post_id
LIMIT %(limit)s;
