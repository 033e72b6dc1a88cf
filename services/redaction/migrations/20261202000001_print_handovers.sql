-- Approved orders whose print material the card producer has taken. An
-- approved order's documents are destroyed once it is here, or once the
-- print deadline has passed without it.
CREATE TABLE handovers (
    order_id       uuid PRIMARY KEY,
    company_id     uuid,
    handed_over_at timestamptz NOT NULL DEFAULT now()
);

-- Approved orders whose numbers are masked and whose documents wait for
-- the handover: the reconciler finds here those past the print deadline
-- (orders no longer lists them once they are masked).
CREATE TABLE awaiting_print (
    order_id    uuid PRIMARY KEY,
    company_id  uuid,
    approved_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE redactions DROP CONSTRAINT redactions_trigger_check;
ALTER TABLE redactions ADD CONSTRAINT redactions_trigger_check
    CHECK (trigger IN ('event', 'reconciler', 'manual', 'handover', 'deadline'));
