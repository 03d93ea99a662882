-- Telegram long polling: the next getUpdates offset per channel.
CREATE TABLE telegram_poll_offsets (
    channel     TEXT PRIMARY KEY,
    next_offset INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
