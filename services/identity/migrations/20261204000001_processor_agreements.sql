-- A grant to a supplier records the company's confirmation that a data
-- processing agreement with the supplier is in place (GDPR art. 28(4)):
-- when the granter confirmed it, and the company's reference to it.
ALTER TABLE grants ADD COLUMN processor_agreement_at timestamptz;
ALTER TABLE grants ADD COLUMN processor_agreement_reference text
    CHECK (length(processor_agreement_reference) <= 200);
