-- name: insert_account
-- accounts.add_account looks first (find_account): a workspace has each platform account once.
INSERT INTO studio_social_accounts
    (workspace_id, platform, platform_account_id, name, access_token, refresh_token,
     token_expires_at, refresh_token_expires_at, options)
VALUES
    (%(workspace_id)s, %(platform)s, %(platform_account_id)s, %(name)s, %(access_token)s,
     %(refresh_token)s, %(token_expires_at)s, %(refresh_token_expires_at)s, %(options)s)
RETURNING id, workspace_id, platform, platform_account_id, name, options ->> 'login' AS login,
          token_expires_at, state;

-- name: list_accounts
-- Never selects a token. login: the `accounts add --login` it was connected with (null: the
-- platform's default).
SELECT id, workspace_id, platform, platform_account_id, name, options ->> 'login' AS login,
       token_expires_at, refresh_token_expires_at, state, state_reason,
       access_token IS NOT NULL AND access_token <> '' AS has_access_token,
       refresh_token IS NOT NULL AND refresh_token <> '' AS has_refresh_token,
       created_at
FROM studio_social_accounts
ORDER BY platform, name NULLS LAST, created_at;

-- name: get_account_platform
SELECT id, platform, state FROM studio_social_accounts WHERE id = %(id)s;

-- name: get_account_platforms
SELECT id, platform, state FROM studio_social_accounts WHERE id = ANY(%(ids)s::uuid[]);

-- name: reauth_account
-- A person's new tokens: the account is active again, so the posts it held become due.
-- The old expiry belonged to the old token. A refresh token given replaces the stored
-- one (and its expiry); without one, the stored refresh token stays.
UPDATE studio_social_accounts
SET access_token = %(access_token)s,
    token_expires_at = %(token_expires_at)s,
    refresh_token = coalesce(%(refresh_token)s, refresh_token),
    refresh_token_expires_at = CASE WHEN %(refresh_token)s::text IS NULL
                                    THEN refresh_token_expires_at
                                    ELSE %(refresh_token_expires_at)s::timestamptz END,
    state = 'active', state_reason = NULL, updated_at = now()
WHERE id = %(id)s AND state IN ('active', 'needs_reauth')
RETURNING id, platform, platform_account_id, name, token_expires_at, state;

-- name: find_account
-- The workspace's account for a platform account id, if it has one: two rows for one
-- account would each count its quota and its posts in flight.
SELECT id FROM studio_social_accounts
WHERE workspace_id = %(workspace_id)s AND platform = %(platform)s
  AND platform_account_id = %(platform_account_id)s
ORDER BY created_at
LIMIT 1;
