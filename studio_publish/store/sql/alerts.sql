-- Alerts for the webhook (see sql/0002_alerts.sql and studio_publish/engine/alerts.py).

-- name: alert_subjects
-- What an alert says about the posts of a run's results: their account and reason.
SELECT p.id, p.platform, p.social_account_id, p.failure_reason, p.updated_at,
       a.state AS account_state, a.state_reason AS account_state_reason,
       a.updated_at AS account_updated_at
FROM studio_social_posts p
LEFT JOIN studio_social_accounts a ON a.id = p.social_account_id
WHERE p.id = ANY(%(ids)s::uuid[]);

-- name: insert_alert
-- An event already recorded (by this run or another) is not recorded again.
INSERT INTO studio_publish_alerts (event_key, event, payload)
VALUES (%(key)s, %(event)s, %(payload)s)
ON CONFLICT (event_key) DO NOTHING;

-- name: claim_unsent_alerts
-- Takes the alerts to send now, counting the attempt up front, so that an overlapping
-- run does not send the same one. A failed send waits 1 minute, doubling up to 1 hour.
WITH due AS MATERIALIZED (
    SELECT id FROM studio_publish_alerts
    WHERE sent_at IS NULL
      AND send_attempts < %(max_attempts)s
      AND (last_attempt_at IS NULL
           OR last_attempt_at < now() - make_interval(
                  secs => least(3600, 60 * power(2, greatest(send_attempts - 1, 0)))))
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE studio_publish_alerts a
SET send_attempts = a.send_attempts + 1, last_attempt_at = now()
FROM due
WHERE a.id = due.id
RETURNING a.id, a.event_key, a.payload;

-- name: mark_alert_sent
UPDATE studio_publish_alerts SET sent_at = now(), last_error = NULL WHERE id = %(id)s;

-- name: mark_alert_failed
UPDATE studio_publish_alerts SET last_error = %(error)s WHERE id = %(id)s;
