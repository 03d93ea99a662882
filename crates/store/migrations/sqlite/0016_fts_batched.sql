-- Full-text indexing once per transaction instead of once per row.
--
-- FTS5 writes its pending in-memory index to disk at every savepoint, and SQLite opens a
-- statement savepoint for every write statement that may abort (any INSERT with a trigger, for
-- one). With the row triggers of migration 11 a busy transaction therefore wrote one tiny index
-- segment per message and spent a third of the writer's time merging them. Now the triggers only
-- note new rows here; the writer indexes the noted rows with one statement per table just before
-- each COMMIT (crates/store/src/sqlite/conn.rs, `index_pending`), so the index is still exact and
-- committed atomically with the rows. Deletes and edits (rare) still update the index at once;
-- a row whose insert is still pending is simply dropped from the list or re-read at COMMIT.
CREATE TABLE fts_pending (
    tbl INTEGER NOT NULL, -- 1 = messages, 2 = contacts
    rid INTEGER NOT NULL,
    PRIMARY KEY (tbl, rid)
) WITHOUT ROWID;

DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT OR IGNORE INTO fts_pending (tbl, rid) VALUES (1, new.rowid);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text)
        SELECT 'delete', old.rowid, old.text
        WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE tbl = 1 AND rid = old.rowid);
    DELETE FROM fts_pending WHERE tbl = 1 AND rid = old.rowid;
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages WHEN old.text IS NOT new.text BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text)
        SELECT 'delete', old.rowid, old.text
        WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE tbl = 1 AND rid = old.rowid);
    INSERT OR IGNORE INTO fts_pending (tbl, rid) VALUES (1, new.rowid);
END;

DROP TRIGGER contacts_fts_insert;
DROP TRIGGER contacts_fts_delete;
DROP TRIGGER contacts_fts_update;
CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
    INSERT OR IGNORE INTO fts_pending (tbl, rid) VALUES (2, new.rowid);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, name)
        SELECT 'delete', old.rowid, old.name
        WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE tbl = 2 AND rid = old.rowid);
    DELETE FROM fts_pending WHERE tbl = 2 AND rid = old.rowid;
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF name ON contacts WHEN old.name IS NOT new.name BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, name)
        SELECT 'delete', old.rowid, old.name
        WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE tbl = 2 AND rid = old.rowid);
    INSERT OR IGNORE INTO fts_pending (tbl, rid) VALUES (2, new.rowid);
END;
