-- Every change of a company's contact details, and who made it: a supplier
-- with broad access once redirected the authorities' letters this way, so
-- the company must be able to see who did what.
CREATE TABLE contact_changes (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id         uuid        NOT NULL REFERENCES companies (id),
    old_email          text        NOT NULL,
    old_phone          text        NOT NULL,
    new_email          text        NOT NULL,
    new_phone          text        NOT NULL,
    changed_by_user_id uuid        NOT NULL,
    version            bigint      NOT NULL,
    changed_at         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX contact_changes_by_company ON contact_changes (company_id, id DESC);
