-- Service quality (issue 10): survey settings per channel, surveys and their answers, stored
-- periodic reports, and secrets (the survey link key).
CREATE TABLE survey_settings (
    channel TEXT PRIMARY KEY,
    csat INTEGER NOT NULL,
    nps INTEGER NOT NULL,
    delay_minutes INTEGER NOT NULL,
    min_days_between INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE surveys (
    id BLOB PRIMARY KEY,
    conversation_id BLOB NOT NULL REFERENCES conversations(id),
    contact_id BLOB NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    agent_id BLOB,
    team TEXT,
    message_id BLOB,
    score INTEGER,
    comment TEXT,
    comment_sentiment TEXT,
    answered_via TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    answered_at INTEGER,
    UNIQUE (conversation_id, kind)
);
CREATE INDEX surveys_contact ON surveys (contact_id, kind, sent_at);
CREATE INDEX surveys_answered ON surveys (answered_at) WHERE answered_at IS NOT NULL;
CREATE INDEX surveys_open ON surveys (state) WHERE state IN ('pending', 'sent');
CREATE INDEX conversations_created ON conversations (created_at);
CREATE INDEX conversations_resolved ON conversations (resolved_at) WHERE status = 'resolved';
CREATE INDEX message_triage_created ON message_triage (created_at);

CREATE TABLE quality_reports (
    period TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    lease_until INTEGER,
    document TEXT,
    generated_at INTEGER,
    emailed_at INTEGER
);

CREATE TABLE quality_secrets (
    name TEXT PRIMARY KEY,
    secret BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
