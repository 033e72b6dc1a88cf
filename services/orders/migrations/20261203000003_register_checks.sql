-- What Folkeregisteret and Aa-registeret say of each worker of a submitted
-- order: the back office sees this instead of the number. Checked at each
-- submission and again when it has grown too old to approve on; a
-- register that does not answer leaves the check pending, never passed.
-- Deleted when the order's numbers are masked.
CREATE TABLE worker_checks (
    worker_id    uuid PRIMARY KEY REFERENCES workers (id) ON DELETE CASCADE,
    order_id     uuid        NOT NULL REFERENCES orders (id),
    state        text        NOT NULL CHECK (state IN ('pending', 'done')),
    person       text        CHECK (person IN ('resident', 'emigrated', 'deceased', 'not_found')),
    name_matches boolean,
    employment   text        CHECK (employment IN ('active', 'none')),
    checked_at   timestamptz,
    -- When a pending check is (next) due, and what held it up last.
    due_at       timestamptz NOT NULL DEFAULT now(),
    attempts     integer     NOT NULL DEFAULT 0,
    waiting_for  text,
    CHECK ((state = 'done') = (checked_at IS NOT NULL AND person IS NOT NULL AND employment IS NOT NULL))
);

CREATE INDEX worker_checks_due ON worker_checks (due_at) WHERE state = 'pending';
CREATE INDEX worker_checks_by_order ON worker_checks (order_id);
