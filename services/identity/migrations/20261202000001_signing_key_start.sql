-- A new signing key is published a while before it signs, so verifiers
-- that refetch the JWKS only now and then know it before its first token
-- reaches them.
ALTER TABLE signing_keys ADD COLUMN signs_from TIMESTAMPTZ;
UPDATE signing_keys SET signs_from = created_at;
ALTER TABLE signing_keys ALTER COLUMN signs_from SET NOT NULL;
