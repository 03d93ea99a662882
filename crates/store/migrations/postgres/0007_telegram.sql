-- Telegram long polling: the next getUpdates offset per channel.
CREATE TABLE telegram_poll_offsets (
    channel     TEXT PRIMARY KEY,
    next_offset BIGINT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
