-- Up to when the reconciler has made sure every approved order has its
-- cards: the next round looks only at approvals since.
CREATE TABLE issuing_watermark (
    only_row      boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    covered_until timestamptz NOT NULL
);
INSERT INTO issuing_watermark (covered_until) VALUES ('1970-01-01T00:00:00Z');
