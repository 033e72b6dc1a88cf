-- One card per worker of an approved order. The holder's name and the
-- employer are as they were when the card was issued: that is what the
-- card shows. No national identity number, photo or signature is kept.
CREATE TABLE cards (
    card_id             uuid PRIMARY KEY,
    card_number         text        NOT NULL UNIQUE CHECK (card_number ~ '^[0-9]{10}$'),
    company_id          uuid        NOT NULL,
    order_id            uuid        NOT NULL,
    worker_id           uuid        NOT NULL,
    holder_name         text        NOT NULL,
    employer_org_number text        NOT NULL,
    employer_name       text        NOT NULL,
    card_type           text        NOT NULL CHECK (card_type IN ('construction', 'cleaning')),
    issued_at           timestamptz NOT NULL,
    valid_until         timestamptz NOT NULL,
    status              text        NOT NULL
                        CHECK (status IN ('active', 'blocked', 'deactivated', 'expired')),
    -- Where the physical card is: waiting for the producer, with it, or
    -- in need of a new photo because the old one was gone first.
    print_state         text        NOT NULL DEFAULT 'awaiting'
                        CHECK (print_state IN ('awaiting', 'handed_over', 'needs_photo')),
    -- When the company was told the card ends in 60 and in 30 days.
    expiring_60_told_at timestamptz,
    expiring_30_told_at timestamptz,
    UNIQUE (order_id, worker_id)
);
CREATE INDEX cards_by_company ON cards (company_id, issued_at DESC, card_id DESC);
CREATE INDEX cards_ending ON cards (valid_until) WHERE status = 'active';

-- Every change of a card's status, with who and why.
CREATE TABLE card_history (
    card_id            uuid        NOT NULL REFERENCES cards (card_id),
    at                 timestamptz NOT NULL,
    status             text        NOT NULL,
    reason             text        NOT NULL DEFAULT '',
    changed_by_user_id uuid
);
CREATE INDEX card_history_by_card ON card_history (card_id, at);

-- One print job per approved order: its cards, with the holders' photos
-- and signatures read from media when it is sent (they are never kept
-- here). Sent with the order as its idempotency key until the producer
-- takes it, or given up when the photos are gone first.
CREATE TABLE print_jobs (
    order_id        uuid PRIMARY KEY,
    company_id      uuid        NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'handed_over', 'abandoned')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_id        uuid,
    leased_until    timestamptz,
    producer_job_id text,
    last_error      text,
    -- The approval's trace, continued by the send.
    trace_context   text        NOT NULL DEFAULT '{}',
    queued_at       timestamptz NOT NULL DEFAULT now(),
    handed_over_at  timestamptz,
    abandoned_at    timestamptz
);
CREATE INDEX print_jobs_due ON print_jobs (next_attempt_at) WHERE state = 'pending';
