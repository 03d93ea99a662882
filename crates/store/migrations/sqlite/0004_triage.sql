-- Triage (crate switchboard-nlp): one row per triaged inbound message, agents' intent labels,
-- versioned intent models.
CREATE TABLE message_triage (
    message_id BLOB PRIMARY KEY REFERENCES messages(id),
    conversation_id BLOB NOT NULL REFERENCES conversations(id),
    language TEXT NOT NULL,
    language_confidence REAL NOT NULL,
    sentiment TEXT NOT NULL,
    sentiment_score REAL NOT NULL,
    intent TEXT NOT NULL,
    intent_confidence REAL NOT NULL,
    intent_by_agent INTEGER NOT NULL DEFAULT 0,
    priority TEXT NOT NULL,
    priority_reasons TEXT NOT NULL,
    pii TEXT NOT NULL,
    redacted_text TEXT NOT NULL,
    intent_model_version INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX message_triage_conversation ON message_triage (conversation_id, created_at);

CREATE TABLE intent_labels (
    message_id BLOB PRIMARY KEY REFERENCES messages(id),
    intent TEXT NOT NULL,
    text TEXT NOT NULL,
    labelled_by BLOB,
    labelled_at INTEGER NOT NULL
);

CREATE TABLE intent_models (
    version INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL,
    examples INTEGER NOT NULL,
    note TEXT NOT NULL,
    bytes BLOB NOT NULL
);
