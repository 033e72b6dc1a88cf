-- Keys identity signs access tokens with. The private half is sealed with
-- HMS_IDENTITY_KEY; the public half is published (JWKS) until every token
-- it signed has expired.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    private_key  BYTEA NOT NULL,
    public_key   BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- No longer signs after this; still verifies until published_until.
    retire_at    TIMESTAMPTZ NOT NULL,
    published_until TIMESTAMPTZ NOT NULL
);

-- People who have logged in. The national identity number is never stored
-- in clear: person_key is its keyed fingerprint (to match grants made by
-- number), register_key the fingerprint of birth date and name (to match
-- the register's role holders, which the open register lists that way).
CREATE TABLE users (
    user_id       UUID PRIMARY KEY,
    person_key    BYTEA NOT NULL UNIQUE,
    register_key  BYTEA NOT NULL,
    name          TEXT NOT NULL,
    -- The first six digits, for people to recognise a grant by.
    masked_label  TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_login_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX users_register_key ON users (register_key);

-- Logins between BeginLogin and CompleteLogin, keyed by the OAuth state.
CREATE TABLE pending_logins (
    state         TEXT PRIMARY KEY,
    nonce         TEXT NOT NULL,
    pkce_verifier BYTEA NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    session_id          UUID PRIMARY KEY,
    user_id             UUID NOT NULL REFERENCES users (user_id),
    -- SHA-256 of the current refresh token; rotated on every refresh.
    refresh_token_hash  BYTEA NOT NULL UNIQUE,
    auth_time           TIMESTAMPTZ NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at          TIMESTAMPTZ NOT NULL,
    revoked_at          TIMESTAMPTZ
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Company ids and their organisation numbers, as the companies service
-- registered them (asked once per company; they never change).
CREATE TABLE companies (
    company_id  UUID PRIMARY KEY,
    org_number  TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL
);

-- The register's role holders per company, fetched on demand and reused
-- for HMS_REGISTER_CACHE_SECS. holder_key is the fingerprint of birth date
-- and name, as users.register_key.
CREATE TABLE register_roles (
    org_number  TEXT NOT NULL,
    holder_key  BYTEA NOT NULL,
    holder_name TEXT NOT NULL,
    role        TEXT NOT NULL,
    PRIMARY KEY (org_number, holder_key, role)
);
CREATE TABLE register_fetches (
    org_number  TEXT PRIMARY KEY,
    fetched_at  TIMESTAMPTZ NOT NULL
);

-- Access a company gave: to a person (by fingerprint of their number), to a
-- supplier company, or, passed on by a supplier, to one of its staff
-- (parent_grant_id is the supplier's grant).
CREATE TABLE grants (
    grant_id           UUID PRIMARY KEY,
    company_id         UUID NOT NULL,
    grantee_person_key BYTEA,
    grantee_label      TEXT,
    supplier_org       TEXT,
    supplier_name      TEXT,
    parent_grant_id    UUID REFERENCES grants (grant_id),
    scopes             TEXT[] NOT NULL,
    valid_from         TIMESTAMPTZ NOT NULL,
    valid_until        TIMESTAMPTZ,
    granted_by         UUID NOT NULL REFERENCES users (user_id),
    granted_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at         TIMESTAMPTZ,
    revoked_by         UUID REFERENCES users (user_id),
    last_used_at       TIMESTAMPTZ,
    CHECK ((grantee_person_key IS NULL) <> (supplier_org IS NULL)),
    CHECK (parent_grant_id IS NULL OR grantee_person_key IS NOT NULL)
);
CREATE INDEX grants_company ON grants (company_id, granted_at DESC);
CREATE INDEX grants_person ON grants (grantee_person_key) WHERE grantee_person_key IS NOT NULL;
CREATE INDEX grants_supplier ON grants (supplier_org) WHERE supplier_org IS NOT NULL;
CREATE INDEX grants_parent ON grants (parent_grant_id) WHERE parent_grant_id IS NOT NULL;
