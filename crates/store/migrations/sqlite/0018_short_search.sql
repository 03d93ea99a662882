-- Inbox search of one or two characters (`Le`, `退款`), too short for the trigram indexes of
-- migration 11: every character and every pair of adjacent characters of a message (and of a
-- contact's name) is one token, so a short query is one index lookup instead of a LIKE scan of
-- every message in view. The tokens are made in Rust (crates/store/src/sqlite/short_index.rs:
-- characters lower-cased, pairs with white space left out, each written as the hex of its UTF-8
-- bytes so that the plain `ascii` tokenizer keeps it whole); the tables keep no text and no
-- positions (contentless, detail=none), only which rows hold a token.
--
-- Rows are indexed at commit with the trigram indexes (`fts_pending`, migration 16): tbl 1 and 2
-- (new or edited rows) go into both indexes, tbl 3 and 4 into these alone; the rows already
-- stored are noted as 3 and 4 here and indexed at the end of this migration run.
CREATE VIRTUAL TABLE messages_grams USING fts5(grams, content = '', contentless_delete = 1, tokenize = 'ascii', detail = none);
CREATE VIRTUAL TABLE contacts_grams USING fts5(grams, content = '', contentless_delete = 1, tokenize = 'ascii', detail = none);

DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text)
        SELECT 'delete', old.rowid, old.text
        WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE tbl = 1 AND rid = old.rowid);
    DELETE FROM messages_grams WHERE rowid = old.rowid;
    DELETE FROM fts_pending WHERE tbl IN (1, 3) AND rid = old.rowid;
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages WHEN old.text IS NOT new.text BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text)
        SELECT 'delete', old.rowid, old.text
        WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE tbl = 1 AND rid = old.rowid);
    DELETE FROM messages_grams WHERE rowid = old.rowid;
    DELETE FROM fts_pending WHERE tbl = 3 AND rid = old.rowid;
    INSERT OR IGNORE INTO fts_pending (tbl, rid) VALUES (1, new.rowid);
END;

DROP TRIGGER contacts_fts_delete;
DROP TRIGGER contacts_fts_update;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, name)
        SELECT 'delete', old.rowid, old.name
        WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE tbl = 2 AND rid = old.rowid);
    DELETE FROM contacts_grams WHERE rowid = old.rowid;
    DELETE FROM fts_pending WHERE tbl IN (2, 4) AND rid = old.rowid;
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF name ON contacts WHEN old.name IS NOT new.name BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, name)
        SELECT 'delete', old.rowid, old.name
        WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE tbl = 2 AND rid = old.rowid);
    DELETE FROM contacts_grams WHERE rowid = old.rowid;
    DELETE FROM fts_pending WHERE tbl = 4 AND rid = old.rowid;
    INSERT OR IGNORE INTO fts_pending (tbl, rid) VALUES (2, new.rowid);
END;

INSERT OR IGNORE INTO fts_pending (tbl, rid) SELECT 3, rowid FROM messages;
INSERT OR IGNORE INTO fts_pending (tbl, rid) SELECT 4, rowid FROM contacts;
