-- Orders left too long without a decision are closed, and their personal
-- data redacted like a decided order's (storage limitation).
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('draft', 'submitted', 'needs_correction', 'approved', 'rejected', 'closed'));
ALTER TABLE orders ADD COLUMN closed_because text
    CHECK (closed_because IN ('draft_abandoned', 'correction_abandoned', 'company_ineligible'));

DROP INDEX orders_awaiting_redaction;
CREATE INDEX orders_awaiting_redaction ON orders (decided_at, id)
    WHERE national_ids_masked_at IS NULL AND status IN ('approved', 'rejected', 'closed');
-- Retention's questions: drafts by age, corrections by when they were
-- asked for.
CREATE INDEX orders_open_by_age ON orders (status, created_at)
    WHERE status IN ('draft', 'submitted', 'needs_correction');

-- Erased when the order's numbers are masked: phone numbers always, names
-- unless the order was approved (its cards carry them).
ALTER TABLE workers ALTER COLUMN phone DROP NOT NULL;
ALTER TABLE workers ALTER COLUMN name DROP NOT NULL;
