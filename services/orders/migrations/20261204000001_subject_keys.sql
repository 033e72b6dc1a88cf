-- Each worker's subject key: identity's keyed fingerprint of the person,
-- which their own access token carries, so that a worker who logs in finds
-- the records about them. It goes with the worker's row (a removed worker,
-- a deleted order); workers added before it was kept have none and are
-- not found.
ALTER TABLE workers ADD COLUMN subject_key text;
CREATE INDEX workers_by_subject ON workers (subject_key) WHERE subject_key IS NOT NULL;
