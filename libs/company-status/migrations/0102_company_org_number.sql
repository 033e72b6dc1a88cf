-- The company's organisation number, from its registration: orders asks
-- Aa-registeret whether a worker is employed by it. Absent for companies
-- registered before it was kept.
ALTER TABLE hms_company_status ADD COLUMN org_number text
    CHECK (org_number ~ '^[0-9]{9}$');
