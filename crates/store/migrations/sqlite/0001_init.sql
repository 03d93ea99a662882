-- Switchboard schema, SQLite flavour. Ids are 16-byte UUID blobs; times are unix microseconds (UTC).
CREATE TABLE channels (
    slug TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    callback_url TEXT,
    secret TEXT,
    config TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id BLOB PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id BLOB PRIMARY KEY,
    user_id BLOB NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE inbound_events (
    seq INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    provider_event_id TEXT NOT NULL,
    message_id BLOB NOT NULL,
    payload TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    processed_at INTEGER,
    conversation_id BLOB,
    UNIQUE (channel, provider_event_id)
);
CREATE INDEX inbound_events_unprocessed ON inbound_events (seq) WHERE processed_at IS NULL;

CREATE TABLE contacts (
    id BLOB PRIMARY KEY,
    name TEXT,
    email TEXT,
    merged_into BLOB,
    created_at INTEGER NOT NULL
);

CREATE TABLE contact_identities (
    channel TEXT NOT NULL,
    provider_user_id TEXT NOT NULL,
    contact_id BLOB NOT NULL REFERENCES contacts(id),
    handle TEXT,
    display_name TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (channel, provider_user_id)
);
CREATE INDEX contact_identities_contact ON contact_identities (contact_id);

CREATE TABLE conversations (
    id BLOB PRIMARY KEY,
    case_number INTEGER NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    thread_key TEXT NOT NULL,
    contact_id BLOB NOT NULL REFERENCES contacts(id),
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    team TEXT,
    assignee_id BLOB,
    tags TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_message_at INTEGER NOT NULL,
    first_response_at INTEGER,
    resolved_at INTEGER,
    reopen_count INTEGER NOT NULL DEFAULT 0,
    repeat_of BLOB,
    snoozed_until INTEGER
);
CREATE INDEX conversations_thread ON conversations (contact_id, channel, thread_key, created_at);
CREATE INDEX conversations_contact_resolved ON conversations (contact_id, resolved_at);
CREATE INDEX conversations_activity ON conversations (last_message_at, id);
CREATE INDEX conversations_status ON conversations (status, last_message_at);

CREATE TABLE messages (
    id BLOB PRIMARY KEY,
    conversation_id BLOB NOT NULL REFERENCES conversations(id),
    direction TEXT NOT NULL,
    visibility TEXT NOT NULL,
    author_id BLOB,
    text TEXT NOT NULL,
    attachments TEXT NOT NULL DEFAULT '[]',
    provider_message_id TEXT,
    delivery_status TEXT,
    failure_reason TEXT,
    idempotency_key TEXT UNIQUE,
    sent_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, created_at);
CREATE INDEX messages_provider_id ON messages (provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE INDEX conversations_snoozed ON conversations (snoozed_until) WHERE status = 'snoozed';

CREATE TABLE conversation_facts (
    id BLOB PRIMARY KEY,
    conversation_id BLOB NOT NULL REFERENCES conversations(id),
    kind TEXT NOT NULL,
    actor_id BLOB,
    data TEXT NOT NULL DEFAULT '{}',
    at INTEGER NOT NULL
);
CREATE INDEX conversation_facts_conversation ON conversation_facts (conversation_id, at);
CREATE INDEX conversation_facts_kind ON conversation_facts (kind, at);

CREATE TABLE outbox (
    id BLOB PRIMARY KEY,
    message_id BLOB NOT NULL UNIQUE REFERENCES messages(id),
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state IN ('pending', 'sending');
