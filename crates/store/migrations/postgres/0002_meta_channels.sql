-- Provider channels (WhatsApp, Messenger, Instagram): delivery reports that arrive before the send
-- they name has been recorded, and structured reply payloads (templates, media).
CREATE TABLE pending_delivery_reports (
    channel TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel, provider_message_id, status)
);

CREATE TABLE reply_payloads (
    idempotency_key TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
