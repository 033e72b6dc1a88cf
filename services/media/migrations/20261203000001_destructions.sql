-- Documents destroyed before their order was decided: rejected by the back
-- office, or their worker taken off the order. Their keys are destroyed
-- and their objects queued for deletion at once; this is the record of
-- what went and why. It holds no personal data.
CREATE TABLE document_destructions (
    document_id  uuid PRIMARY KEY,
    order_id     uuid        NOT NULL,
    worker_id    uuid        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('passport_photo', 'id_document', 'signature')),
    -- `rejected:<reason>` or `worker_removed`.
    reason       text        NOT NULL,
    destroyed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX document_destructions_by_order ON document_destructions (order_id);
