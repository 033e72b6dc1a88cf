-- Who submitted the order (a user id), so the company can be told who
-- ordered in its name.
ALTER TABLE orders ADD COLUMN submitted_by uuid;
