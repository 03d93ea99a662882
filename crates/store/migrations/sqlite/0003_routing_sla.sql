-- Routing, business hours, SLA clocks and timers, automation rules, canned replies (issue 8).
CREATE TABLE calendars (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE teams (
    id BLOB PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    assignment_policy TEXT NOT NULL,
    calendar TEXT REFERENCES calendars(name),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id BLOB NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    skills TEXT NOT NULL DEFAULT '{}',
    capacity TEXT NOT NULL DEFAULT '{}',
    last_assigned_at INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE agent_availability (
    user_id BLOB PRIMARY KEY REFERENCES users(id),
    availability TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE sla_policies (
    id BLOB PRIMARY KEY,
    position INTEGER NOT NULL,
    name TEXT NOT NULL UNIQUE,
    policy TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE automation_rules (
    id BLOB PRIMARY KEY,
    position INTEGER NOT NULL,
    name TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Per conversation: what routing/automation/SLA work has seen, and the SLA clocks it derived.
CREATE TABLE routing_state (
    conversation_id BLOB PRIMARY KEY REFERENCES conversations(id),
    synced_at INTEGER,
    seen_message_at INTEGER,
    lease_until INTEGER,
    policy TEXT,
    clocks TEXT NOT NULL DEFAULT '[]',
    auto_resolve_hours INTEGER
);
CREATE INDEX conversations_updated ON conversations (updated_at);
-- Conversations from before this version count as processed: no acknowledgement or rule runs
-- for old messages.
INSERT INTO routing_state (conversation_id, synced_at, seen_message_at)
SELECT id, updated_at, last_message_at FROM conversations;

CREATE TABLE sla_timers (
    id BLOB PRIMARY KEY,
    conversation_id BLOB NOT NULL REFERENCES conversations(id),
    metric TEXT NOT NULL,
    cycle INTEGER NOT NULL,
    kind TEXT NOT NULL,
    action TEXT,
    fire_at INTEGER NOT NULL,
    fired_at INTEGER,
    UNIQUE (conversation_id, metric, cycle, kind)
);
CREATE INDEX sla_timers_due ON sla_timers (fire_at) WHERE fired_at IS NULL;

CREATE TABLE canned_replies (
    id BLOB PRIMARY KEY,
    shortcut TEXT NOT NULL,
    title TEXT NOT NULL,
    team_id BLOB REFERENCES teams(id) ON DELETE CASCADE,
    variants TEXT NOT NULL,
    usage_count INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX canned_replies_shortcut ON canned_replies (COALESCE(team_id, X''), shortcut);


-- Customer attributes (tier, plan, …) used by SLA policy conditions and automation rules.
CREATE TABLE contact_attributes (
    contact_id BLOB NOT NULL REFERENCES contacts(id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (contact_id, key)
);
