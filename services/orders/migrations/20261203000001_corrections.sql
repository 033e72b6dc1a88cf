-- An order the back office sends back to the company waits for its
-- corrections: rejected documents are replaced, then it is submitted again.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('draft', 'submitted', 'needs_correction', 'approved', 'rejected'));
-- When it was last sent back, for the company's screen and for how long it
-- may wait.
ALTER TABLE orders ADD COLUMN returned_at timestamptz;

-- The back office's latest decision on each document it reviewed. The
-- documents themselves are media's; a rejected one is destroyed there at
-- once, and its review stays as the record of why.
CREATE TABLE document_reviews (
    document_id uuid PRIMARY KEY,
    order_id    uuid        NOT NULL REFERENCES orders (id),
    worker_id   uuid        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('passport_photo', 'id_document', 'signature')),
    decision    text        NOT NULL CHECK (decision IN ('accepted', 'rejected')),
    -- A code of the fixed list, for rejections only.
    reason      text,
    -- The back office's words to the company; may name the person, so it
    -- is erased when the order's numbers are masked.
    note        text,
    decided_by  text        NOT NULL,
    decided_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((decision = 'rejected') = (reason IS NOT NULL))
);

CREATE INDEX document_reviews_by_order ON document_reviews (order_id, worker_id);
