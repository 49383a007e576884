-- The web app inserts posts straight into the table. A NULL, negative or huge attempt_count
-- made the claim statement itself fail (NULL + 1 breaks the claim CHECK, 2^31-1 + 1
-- overflows), so one such row stopped every run. Scheduler rows that hold one now count
-- from 0 (no attempt could have been recorded against such a value), and the CHECK refuses
-- it at insert. Fetched rows are left exactly as they are.
UPDATE studio_social_posts
SET attempt_count = 0
WHERE origin = 'scheduler' AND (attempt_count IS NULL OR attempt_count < 0);

UPDATE studio_social_posts
SET attempt_count = 1000000 - 1
WHERE origin = 'scheduler' AND attempt_count >= 1000000;

ALTER TABLE studio_social_posts
    ADD CONSTRAINT studio_social_posts_attempt_count_check
    CHECK (origin = 'fetched' OR (attempt_count IS NOT NULL AND attempt_count BETWEEN 0 AND 999999))
    NOT VALID;
ALTER TABLE studio_social_posts VALIDATE CONSTRAINT studio_social_posts_attempt_count_check;
