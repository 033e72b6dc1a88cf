-- The access log: one hash chain per company. Entries are only ever
-- appended (the service never updates or deletes one); each holds the hash
-- of the one before, so an entry changed, removed or reordered by hand is
-- found by `hms-audit verify`.
CREATE TABLE access_log (
    company_id    uuid        NOT NULL,
    seq           bigint      NOT NULL CHECK (seq > 0),
    event_id      uuid        NOT NULL UNIQUE,
    action        text        NOT NULL,
    purpose       text        NOT NULL,
    actor         text        NOT NULL,
    order_id      uuid,
    worker_ids    uuid[]      NOT NULL DEFAULT '{}',
    document_id   uuid,
    grant_id      uuid,
    occurred_at   timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL,
    previous_hash bytea       NOT NULL,
    hash          bytea       NOT NULL,
    PRIMARY KEY (company_id, seq)
);

-- A worker's entries, for the company's filter and the worker's own view.
CREATE INDEX access_log_by_worker ON access_log USING gin (worker_ids);
CREATE INDEX access_log_by_time ON access_log (company_id, occurred_at);

-- Each chain's head: appending locks it, so a company's entries are
-- numbered one after another whichever replica appends.
CREATE TABLE chain_heads (
    company_id uuid PRIMARY KEY,
    seq        bigint NOT NULL,
    hash       bytea  NOT NULL
);

-- Signed statements of a chain's head, taken periodically.
CREATE TABLE checkpoints (
    company_id uuid        NOT NULL,
    seq        bigint      NOT NULL,
    head_hash  bytea       NOT NULL,
    signed_at  timestamptz NOT NULL,
    signed     text        NOT NULL,
    PRIMARY KEY (company_id, seq)
);

-- The Ed25519 keys checkpoints are signed with: the private half sealed
-- with HMS_AUDIT_KEY, the public half published (hms-signing-keys).
CREATE TABLE checkpoint_keys (
    kid             text PRIMARY KEY,
    private_key     bytea       NOT NULL,
    public_key      bytea       NOT NULL CHECK (length(public_key) = 32),
    created_at      timestamptz NOT NULL DEFAULT now(),
    signs_from      timestamptz NOT NULL,
    retire_at       timestamptz NOT NULL,
    published_until timestamptz NOT NULL
);
