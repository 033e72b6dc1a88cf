-- Refresh tokens already exchanged, so that presenting one again is seen
-- as the theft it is and ends the session (OAuth 2.0 Security BCP,
-- refresh token rotation). Kept as long as their session.
CREATE TABLE spent_refresh_tokens (
    token_hash  BYTEA PRIMARY KEY,
    session_id  UUID NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    spent_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX spent_refresh_tokens_session ON spent_refresh_tokens (session_id);

-- Sessions are pruned once ended; this finds them.
CREATE INDEX sessions_ended ON sessions (expires_at);

-- A grant's label named the person by the first six digits of their
-- number: their birth date. It now holds only a name the granter gave.
UPDATE grants SET grantee_label = NULL WHERE grantee_label ~ '^[0-9]{6}\*{5}$';
-- users.masked_label held the same; it is no longer written or read. It
-- stays, nullable, for one release, since replicas of the previous version
-- still write it while a rolling update runs; the next release's migration
-- erases what they wrote and drops it.
ALTER TABLE users ALTER COLUMN masked_label DROP NOT NULL;
UPDATE users SET masked_label = NULL WHERE masked_label IS NOT NULL;
