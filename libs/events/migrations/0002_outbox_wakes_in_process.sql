-- A transaction that NOTIFYs holds one lock for the whole server while it
-- commits, so every transaction that wrote an event committed one after
-- the other. The relay is now woken inside the process that wrote the
-- event (hms_db::wake).
DROP TRIGGER hms_outbox_notify ON hms_outbox;
DROP FUNCTION hms_outbox_notify();
