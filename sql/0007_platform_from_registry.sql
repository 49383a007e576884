-- Which platforms exist is declared once, in the platform registry
-- (studio_publish/platforms/registry.py), not in the schema: a CHECK listing them would be
-- a second copy to keep in step, and would make every new platform a schema change. Both
-- doors check a post's platform against the registry instead: `schedule` refuses it (exit
-- 2), and run-due fails a row written by SQL for an unknown platform as `invalid`, visibly,
-- with nothing sent.
ALTER TABLE studio_social_posts DROP CONSTRAINT IF EXISTS studio_social_posts_platform_check;
