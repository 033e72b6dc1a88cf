-- The company's trade, from its registration: orders refuse cards of the
-- other trade. Absent for companies registered before it was kept.
ALTER TABLE hms_company_status ADD COLUMN industry text
    CHECK (industry IN ('construction', 'cleaning'));
