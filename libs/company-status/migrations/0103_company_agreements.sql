-- Which version of the data processing agreement each company accepted
-- last, and which version is current: orders refuses work for a company
-- that has not accepted the current one. Kept apart from the standing,
-- since an acceptance may arrive before the registration does.
CREATE TABLE hms_company_agreements (
    company_id       uuid PRIMARY KEY,
    accepted_version integer     NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hms_current_agreement (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    integer     NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
