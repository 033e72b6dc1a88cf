-- Events waiting to be published. A row is written in the same transaction
-- as the state change it announces, and marked published only after
-- JetStream acknowledged it.
CREATE TABLE hms_outbox (
    id            uuid PRIMARY KEY,
    -- The subject without namespace, e.g. 'hms.orders.v1.order_approved'.
    event_type    text        NOT NULL,
    payload       bytea       NOT NULL,
    -- W3C trace context of the transaction that wrote the event.
    trace_context jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text
);

CREATE INDEX hms_outbox_unpublished ON hms_outbox (created_at) WHERE published_at IS NULL;
CREATE INDEX hms_outbox_published ON hms_outbox (published_at) WHERE published_at IS NOT NULL;

-- Wakes the relay as soon as a transaction with events commits.
CREATE FUNCTION hms_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hms_outbox', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER hms_outbox_notify
    AFTER INSERT ON hms_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION hms_outbox_notify();

-- Events a consumer has handled, so a redelivery changes nothing twice.
CREATE TABLE hms_processed_events (
    consumer     text        NOT NULL,
    event_id     text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
