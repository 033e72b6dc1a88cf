CREATE TABLE orders (
    id                     uuid PRIMARY KEY,
    company_id             uuid        NOT NULL,
    idempotency_key        text        NOT NULL,
    -- SHA-256 of the create request, to refuse a reused key with other
    -- content. Derived from personal data, so it is erased with the national
    -- identity numbers.
    request_fingerprint    bytea,
    status                 text        NOT NULL CHECK (status IN ('draft', 'submitted', 'approved', 'rejected')),
    -- The price list in force when the order was created.
    unit_net_ore           bigint      NOT NULL CHECK (unit_net_ore >= 0),
    vat_rate_basis_points  integer     NOT NULL CHECK (vat_rate_basis_points BETWEEN 0 AND 10000),
    created_at             timestamptz NOT NULL DEFAULT now(),
    submitted_at           timestamptz,
    decided_at             timestamptz,
    decided_by             text,
    rejection_reason       text,
    national_ids_masked_at timestamptz,
    UNIQUE (company_id, idempotency_key)
);

CREATE INDEX orders_by_status ON orders (status, created_at, id);
CREATE INDEX orders_by_company ON orders (company_id, created_at, id);
CREATE INDEX orders_by_creation ON orders (created_at, id);
-- The redaction reconciler's question: decided, but numbers still present.
CREATE INDEX orders_awaiting_redaction ON orders (decided_at, id)
    WHERE national_ids_masked_at IS NULL AND status IN ('approved', 'rejected');

CREATE TABLE workers (
    id                 uuid PRIMARY KEY,
    order_id           uuid        NOT NULL REFERENCES orders (id),
    position           integer     NOT NULL,
    name               text        NOT NULL,
    -- AES-256-GCM of the full number, bound to the worker id; NULL once
    -- masked. The clear number is never stored.
    national_id_sealed bytea,
    national_id_masked text        NOT NULL CHECK (national_id_masked ~ '^[0-9]{6}\*{5}$'),
    national_id_kind   text        NOT NULL CHECK (national_id_kind IN ('fodselsnummer', 'd_number', 'h_number')),
    phone              text        NOT NULL,
    card_type          text        NOT NULL CHECK (card_type IN ('construction', 'cleaning')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    masked_at          timestamptz,
    UNIQUE (order_id, position),
    CHECK ((national_id_sealed IS NULL) = (masked_at IS NOT NULL))
);
