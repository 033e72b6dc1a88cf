-- A new signing key is published a whole rotation before it signs, so
-- verifiers that refetch the JWKS only now and then know it before its
-- first token reaches them.
ALTER TABLE signing_keys ADD COLUMN signs_from TIMESTAMPTZ NOT NULL DEFAULT now();
UPDATE signing_keys SET signs_from = created_at;
