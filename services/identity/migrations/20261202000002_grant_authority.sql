-- The grant that gave its granter the right to grant, when the granter was
-- not an owner in the register: an access manager's own grant on the
-- company, or on the supplier whose grant they passed on. What was given
-- under it never outlasts it and is revoked with it.
ALTER TABLE grants ADD COLUMN authority_grant_id UUID REFERENCES grants (grant_id);
CREATE INDEX grants_authority ON grants (authority_grant_id)
    WHERE authority_grant_id IS NOT NULL;
