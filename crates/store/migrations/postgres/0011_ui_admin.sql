-- Agent UI (issue 6): notes on contacts, and trigram indexes for the inbox search.
CREATE TABLE contact_notes (
    id UUID PRIMARY KEY,
    contact_id UUID NOT NULL REFERENCES contacts(id),
    author_id UUID NOT NULL REFERENCES users(id),
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX contact_notes_contact ON contact_notes (contact_id, created_at);

-- pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it. Its GIN
-- indexes answer ILIKE '%…%' of 3+ characters in any script and are maintained by PostgreSQL.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX messages_text_trgm ON messages USING gin (text gin_trgm_ops);
CREATE INDEX contacts_name_trgm ON contacts USING gin (name gin_trgm_ops);
