-- One row per order being or having been redacted. A row is written before
-- the first call to orders or media, so an attempt that dies half-way is
-- found again by the reconciler; once `completed_at` is set the row is the
-- order's receipt.
CREATE TABLE redactions (
    order_id        uuid PRIMARY KEY,
    company_id      uuid,
    trigger         text        NOT NULL CHECK (trigger IN ('event', 'reconciler', 'manual')),
    attempts        integer     NOT NULL DEFAULT 0,
    started_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    workers_masked  integer,
    objects_deleted integer,
    keys_destroyed  integer,
    last_error      text,
    CHECK ((completed_at IS NULL) OR (workers_masked IS NOT NULL AND objects_deleted IS NOT NULL AND keys_destroyed IS NOT NULL))
);

CREATE INDEX redactions_unfinished ON redactions (started_at) WHERE completed_at IS NULL;
