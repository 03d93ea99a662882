-- Website chat widget: visitors, the ordered stream each visitor reads, uploaded files.
CREATE TABLE widget_visitors (
    id           UUID PRIMARY KEY,
    channel      TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    subject      TEXT NOT NULL,
    name         TEXT,
    email        TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX widget_visitors_subject ON widget_visitors (channel, subject);

-- The last sequence number of each stream; its row is the lock that orders appends.
CREATE TABLE widget_streams (
    channel  TEXT NOT NULL,
    subject  TEXT NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (channel, subject)
);

CREATE TABLE widget_items (
    channel    TEXT NOT NULL,
    subject    TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    dedupe_key TEXT NOT NULL,
    direction  TEXT NOT NULL,
    body       JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel, subject, seq),
    UNIQUE (channel, subject, dedupe_key)
);

CREATE TABLE widget_uploads (
    id         UUID PRIMARY KEY,
    channel    TEXT NOT NULL,
    subject    TEXT NOT NULL,
    path       TEXT NOT NULL,
    mime_type  TEXT NOT NULL,
    filename   TEXT NOT NULL,
    size       BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
