-- The Ed25519 keys that sign the cards' offline credentials and status
-- lists (libs/signing-keys). The private key (PKCS#8) is sealed with
-- HMS_CARDS_KEY, bound to its kid. A key is published a whole rotation before it first signs, so
-- a verifier that refreshes its keys once a rotation always holds the
-- next one, and it stays published for as long as a card it signed can
-- be shown.
CREATE TABLE credential_keys (
    kid             text PRIMARY KEY,
    private_key     bytea       NOT NULL,
    public_key      bytea       NOT NULL CHECK (length(public_key) = 32),
    created_at      timestamptz NOT NULL DEFAULT now(),
    signs_from      timestamptz NOT NULL,
    retire_at       timestamptz NOT NULL,
    published_until timestamptz NOT NULL
);

-- Each card's entry in the status list. Entries are never reused: a
-- credential names its index for as long as it can be shown.
CREATE SEQUENCE card_status_index AS bigint MINVALUE 0 START 0;
ALTER TABLE cards ADD COLUMN status_index bigint UNIQUE;
UPDATE cards SET status_index = nextval('card_status_index');
ALTER TABLE cards
    ALTER COLUMN status_index SET DEFAULT nextval('card_status_index'),
    ALTER COLUMN status_index SET NOT NULL;
ALTER SEQUENCE card_status_index OWNED BY cards.status_index;
