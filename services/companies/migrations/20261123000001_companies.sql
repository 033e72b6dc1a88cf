CREATE TABLE companies (
    id            uuid PRIMARY KEY,
    org_number    text        NOT NULL UNIQUE,
    name          text        NOT NULL,
    contact_email text        NOT NULL,
    contact_phone text        NOT NULL,
    industry      text        NOT NULL CHECK (industry IN ('construction', 'cleaning')),
    status        text        NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'suspended')),
    status_reason text,
    -- Increases with every change; events carry it so consumers can ignore
    -- stale ones.
    version       bigint      NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- The back office's queues: companies in one status, oldest first.
CREATE INDEX companies_by_status ON companies (status, registered_at, id);
CREATE INDEX companies_by_registration ON companies (registered_at, id);

-- Every decision of the back office, and who made it.
CREATE TABLE company_decisions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id  uuid        NOT NULL REFERENCES companies (id),
    from_status text        NOT NULL,
    to_status   text        NOT NULL,
    reason      text,
    decided_by  text        NOT NULL,
    decided_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX company_decisions_by_company ON company_decisions (company_id, decided_at);
