-- The Instagram publishing quota last read for each account, for `status`:
-- {"used": 3, "total": 50, "checked_at": "..."}. Instagram counts a rolling 24 hours.
ALTER TABLE studio_social_accounts ADD COLUMN IF NOT EXISTS publishing_quota jsonb;
