-- Agent UI (issue 6): notes on contacts, and full-text indexes for the inbox search.
CREATE TABLE contact_notes (
    id BLOB PRIMARY KEY,
    contact_id BLOB NOT NULL REFERENCES contacts(id),
    author_id BLOB NOT NULL REFERENCES users(id),
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX contact_notes_contact ON contact_notes (contact_id, created_at);

-- Trigram indexes answer substring searches (any script, Chinese included) of 3+ characters.
-- They index the tables' own rows (external content, by rowid) and follow every change through
-- triggers. The rowid of a table without an INTEGER PRIMARY KEY may change in a VACUUM; after one,
-- run INSERT INTO messages_fts(messages_fts) VALUES ('rebuild') (and the same for contacts_fts).
CREATE VIRTUAL TABLE messages_fts USING fts5(text, content = 'messages', content_rowid = 'rowid', tokenize = 'trigram');
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages WHEN old.text IS NOT new.text BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
END;

CREATE VIRTUAL TABLE contacts_fts USING fts5(name, content = 'contacts', content_rowid = 'rowid', tokenize = 'trigram');
INSERT INTO contacts_fts (contacts_fts) VALUES ('rebuild');
CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_fts (rowid, name) VALUES (new.rowid, new.name);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, name) VALUES ('delete', old.rowid, old.name);
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF name ON contacts WHEN old.name IS NOT new.name BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, name) VALUES ('delete', old.rowid, old.name);
    INSERT INTO contacts_fts (rowid, name) VALUES (new.rowid, new.name);
END;
