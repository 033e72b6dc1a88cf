-- A client chooses its idempotency key freely, so it may be a national
-- identity number: keep only a keyed digest of it (HMAC with the
-- fingerprint key), erased with the order's personal data like the request
-- fingerprint. The keys stored so far are erased; a retry of a create made
-- before this change is no longer recognised.
--
-- The column itself stays, nullable, for one release: replicas of the
-- previous version still write it while a rolling update runs. The next
-- release's migration erases what they wrote and drops it.
ALTER TABLE orders ADD COLUMN idempotency_key_digest bytea;
ALTER TABLE orders ALTER COLUMN idempotency_key DROP NOT NULL;
UPDATE orders SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX orders_idempotency ON orders (company_id, idempotency_key_digest);
