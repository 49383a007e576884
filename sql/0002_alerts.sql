-- studio-publish schema, version 2: alerts sent to STUDIO_PUBLISH_ALERT_WEBHOOK_URL.
--
-- One row per event, keyed so that the same event is never recorded (or sent) twice.
-- A row is written before the webhook is called; sent_at stays NULL until the webhook
-- accepts it, so a webhook that is down gets the event on a later run.

CREATE TABLE IF NOT EXISTS studio_publish_alerts (
    id bigserial PRIMARY KEY,
    -- e.g. post_failed:<post_id>:<run_id>, account_needs_reauth:<account_id>:<updated_at>
    event_key text NOT NULL UNIQUE,
    event text NOT NULL,
    -- The JSON document the webhook receives: ids, reason and message, never a token.
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    send_attempts integer NOT NULL DEFAULT 0,
    last_attempt_at timestamptz,
    last_error text,
    sent_at timestamptz
);

-- What the next run retries: only the unsent rows.
CREATE INDEX IF NOT EXISTS studio_publish_alerts_unsent_idx
    ON studio_publish_alerts (id)
    WHERE sent_at IS NULL;

CREATE INDEX IF NOT EXISTS studio_publish_alerts_created_idx
    ON studio_publish_alerts (created_at);
