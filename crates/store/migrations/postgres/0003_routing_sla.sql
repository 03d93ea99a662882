-- Routing, business hours, SLA clocks and timers, automation rules, canned replies (issue 8).
CREATE TABLE calendars (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE teams (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    assignment_policy TEXT NOT NULL,
    calendar TEXT REFERENCES calendars(name),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE team_members (
    team_id UUID NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    skills TEXT NOT NULL DEFAULT '{}',
    capacity TEXT NOT NULL DEFAULT '{}',
    last_assigned_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE agent_availability (
    user_id UUID PRIMARY KEY REFERENCES users(id),
    availability TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE sla_policies (
    id UUID PRIMARY KEY,
    position INTEGER NOT NULL,
    name TEXT NOT NULL UNIQUE,
    policy TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE automation_rules (
    id UUID PRIMARY KEY,
    position INTEGER NOT NULL,
    name TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Per conversation: what routing/automation/SLA work has seen, and the SLA clocks it derived.
CREATE TABLE routing_state (
    conversation_id UUID PRIMARY KEY REFERENCES conversations(id),
    synced_at TIMESTAMPTZ,
    seen_message_at TIMESTAMPTZ,
    lease_until TIMESTAMPTZ,
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
    id UUID PRIMARY KEY,
    conversation_id UUID NOT NULL REFERENCES conversations(id),
    metric TEXT NOT NULL,
    cycle INTEGER NOT NULL,
    kind TEXT NOT NULL,
    action TEXT,
    fire_at TIMESTAMPTZ NOT NULL,
    fired_at TIMESTAMPTZ,
    UNIQUE (conversation_id, metric, cycle, kind)
);
CREATE INDEX sla_timers_due ON sla_timers (fire_at) WHERE fired_at IS NULL;

CREATE TABLE canned_replies (
    id UUID PRIMARY KEY,
    shortcut TEXT NOT NULL,
    title TEXT NOT NULL,
    team_id UUID REFERENCES teams(id) ON DELETE CASCADE,
    variants TEXT NOT NULL,
    usage_count BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX canned_replies_shortcut ON canned_replies (COALESCE(team_id, '00000000-0000-0000-0000-000000000000'::uuid), shortcut);


-- Customer attributes (tier, plan, …) used by SLA policy conditions and automation rules.
CREATE TABLE contact_attributes (
    contact_id UUID NOT NULL REFERENCES contacts(id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (contact_id, key)
);
