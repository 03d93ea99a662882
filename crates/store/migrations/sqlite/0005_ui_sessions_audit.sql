-- Agent UI: login sessions, login throttling, user preferences, read marks, the audit log and an
-- index for the inbox's urgency order.
CREATE TABLE ui_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id BLOB NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX ui_sessions_user ON ui_sessions (user_id);

CREATE TABLE login_failures (
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX login_failures_email ON login_failures (email, at);
CREATE INDEX login_failures_ip ON login_failures (ip, at);

CREATE TABLE user_prefs (
    user_id BLOB PRIMARY KEY REFERENCES users(id),
    locale TEXT,
    time_zone TEXT
);

CREATE TABLE conversation_reads (
    user_id BLOB NOT NULL,
    conversation_id BLOB NOT NULL,
    last_read_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
);

CREATE TABLE audit_log (
    id BLOB PRIMARY KEY,
    actor_id BLOB,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at, id);

CREATE INDEX conversations_inbox ON conversations (status,
    (CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END), last_message_at, id);
CREATE INDEX conversations_inbox_assignee ON conversations (assignee_id, status,
    (CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END), last_message_at, id);
