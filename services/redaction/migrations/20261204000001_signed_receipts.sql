-- Deletion receipts are signed (a compact JWS) when they are written, so
-- what the platform attested is kept as it was attested.
ALTER TABLE redactions ADD COLUMN attestation text;

-- The Ed25519 keys receipts are signed with: the private half sealed with
-- HMS_REDACTION_KEY, the public half published (hms-signing-keys).
CREATE TABLE receipt_keys (
    kid             text PRIMARY KEY,
    private_key     bytea       NOT NULL,
    public_key      bytea       NOT NULL CHECK (length(public_key) = 32),
    created_at      timestamptz NOT NULL DEFAULT now(),
    signs_from      timestamptz NOT NULL,
    retire_at       timestamptz NOT NULL,
    published_until timestamptz NOT NULL
);
