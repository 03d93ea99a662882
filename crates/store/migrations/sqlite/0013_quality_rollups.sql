-- Daily quality rollups (issue 10): per local day of the brand's time zone, one row for the
-- whole day (dim = '') and one per slice (dim = channel, team, agent, intent, language,
-- priority). `data` is the JSON of the day's sums (switchboard_domain::rollup::Aggregate).
CREATE TABLE quality_rollups (
    tz TEXT NOT NULL,
    day TEXT NOT NULL,
    dim TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    computed_at INTEGER NOT NULL,
    PRIMARY KEY (tz, day, dim, key)
);

-- Where the rollup job has looked for changes up to, per time zone.
CREATE TABLE quality_rollup_cursor (
    tz TEXT PRIMARY KEY,
    changed_since INTEGER NOT NULL
);

-- The backlog at a moment reads the open conversations and those resolved after it.
CREATE INDEX conversations_resolved_at ON conversations (resolved_at, created_at);
