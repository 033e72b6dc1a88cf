-- The company's name, from its registration: what a worker looking at the
-- records about them sees as the employer. Absent for companies registered
-- before it was kept.
ALTER TABLE hms_company_status ADD COLUMN name text;
