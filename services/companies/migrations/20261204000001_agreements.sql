-- The data processing agreement (GDPR art. 28) between the platform and
-- the companies, in versions; the first is published at start-up, later
-- ones by the back office.
CREATE TABLE agreement_versions (
    version      integer PRIMARY KEY CHECK (version > 0),
    text         text        NOT NULL,
    sha256       text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    published_at timestamptz NOT NULL DEFAULT now(),
    published_by text        NOT NULL
);

-- Who accepted which version for which company, and when. A company may
-- order only once it has accepted the current version.
CREATE TABLE agreement_acceptances (
    company_id          uuid        NOT NULL REFERENCES companies (id),
    version             integer     NOT NULL REFERENCES agreement_versions (version),
    sha256              text        NOT NULL,
    accepted_by_user_id uuid        NOT NULL,
    accepted_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, version)
);
