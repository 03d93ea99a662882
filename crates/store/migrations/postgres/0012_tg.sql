-- Customers' edits of sent messages (Telegram edited_message): the message row shows the newest
-- text; every earlier text is kept here with the time it was written.
ALTER TABLE messages ADD COLUMN edited_at TIMESTAMPTZ;
CREATE TABLE message_edits (
    id          UUID PRIMARY KEY,
    message_id  UUID NOT NULL REFERENCES messages(id),
    text        TEXT NOT NULL,
    written_at  TIMESTAMPTZ NOT NULL,
    event_id    UUID,
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX message_edits_message ON message_edits (message_id, written_at);
