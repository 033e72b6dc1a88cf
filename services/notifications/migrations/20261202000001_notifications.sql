-- What notifications knows of companies, from their events: how to reach
-- them, and in which language. `version` is the company's, so an older
-- event never overwrites a newer contact.
CREATE TABLE companies (
    company_id  uuid PRIMARY KEY,
    org_number  text        NOT NULL,
    name        text        NOT NULL,
    email       text        NOT NULL,
    phone       text        NOT NULL,
    language    text        NOT NULL CHECK (language IN ('nb', 'en')),
    version     bigint      NOT NULL
);
CREATE INDEX companies_by_org ON companies (org_number);

-- Grants, from identity's events: who holds access (by the label the giver
-- chose, or the supplier's name; never a number), until when, and whether
-- the company was told it ends soon.
CREATE TABLE grants (
    grant_id          uuid PRIMARY KEY,
    company_id        uuid        NOT NULL,
    grantee_user_id   uuid,
    grantee_label     text        NOT NULL DEFAULT '',
    supplier_org      text,
    supplier_name     text,
    parent_grant_id   uuid,
    valid_until       timestamptz,
    revoked_at        timestamptz,
    expiry_noticed_at timestamptz
);
CREATE INDEX grants_ending ON grants (valid_until)
    WHERE revoked_at IS NULL AND expiry_noticed_at IS NULL AND valid_until IS NOT NULL;

-- Every message: recorded in the transaction that handles its event, then
-- sent by the worker. One per event, recipient and channel: the event is
-- known by its content (`dedupe_key`, its type and a hash of it), so an
-- event delivered twice, or published again under another id, sends
-- nothing twice. It holds names, counts, dates and links,
-- never a national identity number, an image or a token.
CREATE TABLE deliveries (
    delivery_id        uuid PRIMARY KEY,
    event_id           text        NOT NULL,
    dedupe_key         text        NOT NULL,
    company_id         uuid        NOT NULL,
    channel            text        NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient          text        NOT NULL,
    kind               text        NOT NULL,
    language           text        NOT NULL,
    subject            text,
    body_text          text        NOT NULL,
    body_html          text,
    status             text        NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts           integer     NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    -- A code or kind of failure, never the provider's words (they may
    -- quote the address).
    last_error         text,
    provider_reference text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    sent_at            timestamptz,
    failed_at          timestamptz,
    UNIQUE (dedupe_key, recipient, channel)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_company ON deliveries (company_id, created_at DESC, delivery_id DESC);
