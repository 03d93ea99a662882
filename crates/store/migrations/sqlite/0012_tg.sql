-- Customers' edits of sent messages (Telegram edited_message): the message row shows the newest
-- text; every earlier text is kept here with the time it was written.
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
CREATE TABLE message_edits (
    id          BLOB PRIMARY KEY,
    message_id  BLOB NOT NULL REFERENCES messages(id),
    text        TEXT NOT NULL,
    written_at  INTEGER NOT NULL,
    event_id    BLOB,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX message_edits_message ON message_edits (message_id, written_at);
