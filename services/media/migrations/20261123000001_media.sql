-- Orders media has stored documents for, and the tombstone of each purge:
-- once `purged_at` is set, no document of the order is accepted again.
CREATE TABLE media_orders (
    order_id              uuid PRIMARY KEY,
    company_id            uuid,
    purged_at             timestamptz,
    total_objects_deleted integer NOT NULL DEFAULT 0,
    total_keys_destroyed  integer NOT NULL DEFAULT 0
);

CREATE TABLE documents (
    id           uuid PRIMARY KEY,
    order_id     uuid        NOT NULL REFERENCES media_orders (order_id),
    worker_id    uuid        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('passport_photo', 'id_document', 'signature')),
    content_type text        NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'application/pdf')),
    size_bytes   bigint      NOT NULL CHECK (size_bytes > 0),
    -- Where the sealed object lies in the object store.
    object_path  text        NOT NULL UNIQUE,
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, worker_id, kind)
);

-- Each object's own AES-256 key, sealed with the master key. Kept here and
-- never beside the object: deleting the row makes the object unreadable,
-- in the store and in every backup of it.
CREATE TABLE document_keys (
    document_id   uuid PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    wrapped_key   bytea NOT NULL,
    master_key_id text  NOT NULL
);

-- Objects whose keys are destroyed, until the store confirms their deletion.
CREATE TABLE object_deletions (
    object_path text PRIMARY KEY,
    order_id    uuid        NOT NULL,
    queued_at   timestamptz NOT NULL DEFAULT now(),
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text
);

CREATE INDEX object_deletions_by_order ON object_deletions (order_id);
