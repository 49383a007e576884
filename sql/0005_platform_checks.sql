-- The web app inserts posts and accounts straight into the tables: refuse, loudly and at
-- insert time, a platform the scheduler cannot publish to. Fetched posts may name any
-- platform (the app fetches from more than it publishes to).
ALTER TABLE studio_social_posts
    ADD CONSTRAINT studio_social_posts_platform_check
    CHECK (origin = 'fetched' OR platform IN ('instagram', 'facebook', 'tiktok')) NOT VALID;
ALTER TABLE studio_social_posts VALIDATE CONSTRAINT studio_social_posts_platform_check;
