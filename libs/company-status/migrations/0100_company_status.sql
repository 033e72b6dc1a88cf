-- This service's view of each company's standing with the back office, kept
-- from company events. `version` is the company's version in the companies
-- service; older events never overwrite newer ones.
CREATE TABLE hms_company_status (
    company_id uuid PRIMARY KEY,
    status     text        NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'suspended')),
    version    bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
