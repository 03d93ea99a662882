-- Provider channels (WhatsApp, Messenger, Instagram): delivery reports that arrive before the send
-- they name has been recorded, and structured reply payloads (templates, media).
CREATE TABLE pending_delivery_reports (
    channel TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (channel, provider_message_id, status)
);
-- Reports for messages sent outside Switchboard are never applied; they are pruned by age.
CREATE INDEX pending_delivery_reports_age ON pending_delivery_reports (received_at);

CREATE TABLE reply_payloads (
    idempotency_key TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Inbound media files fetched from the provider into the data directory, one row per attachment.
CREATE TABLE media_downloads (
    message_id BLOB NOT NULL,
    attachment_index INTEGER NOT NULL,
    channel TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    path TEXT,
    mime_type TEXT,
    size INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, attachment_index)
);
CREATE INDEX media_downloads_due ON media_downloads (next_attempt_at) WHERE state = 'pending';
