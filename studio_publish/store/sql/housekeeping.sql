-- `db prune`: history older than a cutoff. Each statement matches its rows once (doomed)
-- and deletes them unless dry_run, so the count shown by --dry-run is what a real prune
-- deletes. limit (NULL: no limit) keeps each real DELETE short; the caller repeats it.

-- name: prune_attempts
-- Only attempts of settled posts: a post still scheduled, publishing or needing review
-- keeps its whole history (the engine and the person reviewing read it).
WITH doomed AS MATERIALIZED (
    SELECT t.id
    FROM studio_publish_attempts t
    JOIN studio_social_posts p ON p.id = t.post_id
    WHERE t.started_at < %(cutoff)s
      AND p.status IN ('posted', 'failed', 'cancelled')
    LIMIT %(limit)s
), deleted AS (
    DELETE FROM studio_publish_attempts t
    USING doomed
    WHERE t.id = doomed.id AND NOT %(dry_run)s
    RETURNING 1
)
SELECT (SELECT count(*) FROM doomed) AS matched, (SELECT count(*) FROM deleted) AS deleted;

-- name: prune_runs
-- Never the latest run: status shows when cron last ran from it.
WITH doomed AS MATERIALIZED (
    SELECT id
    FROM studio_publish_runs
    WHERE started_at < %(cutoff)s
      AND id <> (SELECT id FROM studio_publish_runs ORDER BY started_at DESC, id DESC LIMIT 1)
    LIMIT %(limit)s
), deleted AS (
    DELETE FROM studio_publish_runs r
    USING doomed
    WHERE r.id = doomed.id AND NOT %(dry_run)s
    RETURNING 1
)
SELECT (SELECT count(*) FROM doomed) AS matched, (SELECT count(*) FROM deleted) AS deleted;

-- name: prune_alerts
-- Alerts recorded before the cutoff and sent or given up on (never one still being
-- retried). Their keys name one run or one moment: no later event reuses a deleted key.
WITH doomed AS MATERIALIZED (
    SELECT id
    FROM studio_publish_alerts
    WHERE created_at < %(cutoff)s
      AND (sent_at IS NOT NULL OR send_attempts >= %(max_alert_attempts)s)
    LIMIT %(limit)s
), deleted AS (
    DELETE FROM studio_publish_alerts a
    USING doomed
    WHERE a.id = doomed.id AND NOT %(dry_run)s
    RETURNING 1
)
SELECT (SELECT count(*) FROM doomed) AS matched, (SELECT count(*) FROM deleted) AS deleted;
