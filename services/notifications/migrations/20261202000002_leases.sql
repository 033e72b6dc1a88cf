-- A send belongs to the lease it was claimed under: a replica whose lease
-- ran out (it hung, or lost the database) cannot overwrite what the replica
-- that took the message over recorded. Attempts are counted when claimed,
-- so a message that crashes its sender still reaches the limit.
ALTER TABLE deliveries ADD COLUMN lease_id uuid;

-- Old messages are deleted after the retention period (they hold names and
-- contact details); this finds them.
CREATE INDEX deliveries_by_age ON deliveries (created_at);
