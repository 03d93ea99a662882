-- Triage (crate switchboard-nlp): one row per triaged inbound message, agents' intent labels,
-- versioned intent models.
CREATE TABLE message_triage (
    message_id UUID PRIMARY KEY REFERENCES messages(id),
    conversation_id UUID NOT NULL REFERENCES conversations(id),
    language TEXT NOT NULL,
    language_confidence REAL NOT NULL,
    sentiment TEXT NOT NULL,
    sentiment_score REAL NOT NULL,
    intent TEXT NOT NULL,
    intent_confidence REAL NOT NULL,
    intent_by_agent BOOLEAN NOT NULL DEFAULT FALSE,
    priority TEXT NOT NULL,
    priority_reasons JSONB NOT NULL,
    pii JSONB NOT NULL,
    redacted_text TEXT NOT NULL,
    intent_model_version BIGINT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX message_triage_conversation ON message_triage (conversation_id, created_at);

CREATE TABLE intent_labels (
    message_id UUID PRIMARY KEY REFERENCES messages(id),
    intent TEXT NOT NULL,
    text TEXT NOT NULL,
    labelled_by UUID,
    labelled_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE intent_models (
    version BIGSERIAL PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    examples BIGINT NOT NULL,
    note TEXT NOT NULL,
    bytes BYTEA NOT NULL
);
