-- Why each order's personal data went: approved, rejected, or closed
-- without a decision (and why). Receipts written before have none.
ALTER TABLE redactions ADD COLUMN cause text
    CHECK (cause IN ('approved', 'rejected', 'draft_abandoned', 'correction_abandoned', 'company_ineligible'));
