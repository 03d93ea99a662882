//! Embedded migrations: one ordered list per backend, applied once each, in a transaction.

/// A schema migration.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const SQLITE: &[Migration] = &[
    Migration { version: 1, name: "init", sql: include_str!("../migrations/sqlite/0001_init.sql") },
    Migration { version: 2, name: "meta_channels", sql: include_str!("../migrations/sqlite/0002_meta_channels.sql") },
    Migration { version: 3, name: "routing_sla", sql: include_str!("../migrations/sqlite/0003_routing_sla.sql") },
    Migration { version: 4, name: "triage", sql: include_str!("../migrations/sqlite/0004_triage.sql") },
    Migration {
        version: 5,
        name: "ui_sessions_audit",
        sql: include_str!("../migrations/sqlite/0005_ui_sessions_audit.sql"),
    },
    Migration { version: 6, name: "x_channel", sql: include_str!("../migrations/sqlite/0006_x_channel.sql") },
    Migration { version: 7, name: "telegram", sql: include_str!("../migrations/sqlite/0007_telegram.sql") },
    Migration { version: 8, name: "widget", sql: include_str!("../migrations/sqlite/0008_widget.sql") },
    Migration { version: 9, name: "kb", sql: include_str!("../migrations/sqlite/0009_kb.sql") },
    Migration { version: 10, name: "quality", sql: include_str!("../migrations/sqlite/0010_quality.sql") },
    Migration { version: 11, name: "ui_admin", sql: include_str!("../migrations/sqlite/0011_ui_admin.sql") },
    Migration { version: 12, name: "tg", sql: include_str!("../migrations/sqlite/0012_tg.sql") },
    Migration {
        version: 13,
        name: "quality_rollups",
        sql: include_str!("../migrations/sqlite/0013_quality_rollups.sql"),
    },
    Migration {
        version: 15,
        name: "button_choices",
        sql: include_str!("../migrations/sqlite/0015_button_choices.sql"),
    },
    Migration { version: 16, name: "fts_batched", sql: include_str!("../migrations/sqlite/0016_fts_batched.sql") },
    Migration {
        version: 17,
        name: "contact_created",
        sql: include_str!("../migrations/sqlite/0017_contact_created.sql"),
    },
    Migration { version: 18, name: "short_search", sql: include_str!("../migrations/sqlite/0018_short_search.sql") },
    Migration {
        version: 19,
        name: "rollup_valid_until",
        sql: include_str!("../migrations/sqlite/0019_rollup_valid_until.sql"),
    },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration { version: 1, name: "init", sql: include_str!("../migrations/postgres/0001_init.sql") },
    Migration { version: 2, name: "meta_channels", sql: include_str!("../migrations/postgres/0002_meta_channels.sql") },
    Migration { version: 3, name: "routing_sla", sql: include_str!("../migrations/postgres/0003_routing_sla.sql") },
    Migration { version: 4, name: "triage", sql: include_str!("../migrations/postgres/0004_triage.sql") },
    Migration {
        version: 5,
        name: "ui_sessions_audit",
        sql: include_str!("../migrations/postgres/0005_ui_sessions_audit.sql"),
    },
    Migration { version: 6, name: "x_channel", sql: include_str!("../migrations/postgres/0006_x_channel.sql") },
    Migration { version: 7, name: "telegram", sql: include_str!("../migrations/postgres/0007_telegram.sql") },
    Migration { version: 8, name: "widget", sql: include_str!("../migrations/postgres/0008_widget.sql") },
    Migration { version: 9, name: "kb", sql: include_str!("../migrations/postgres/0009_kb.sql") },
    Migration { version: 10, name: "quality", sql: include_str!("../migrations/postgres/0010_quality.sql") },
    Migration { version: 11, name: "ui_admin", sql: include_str!("../migrations/postgres/0011_ui_admin.sql") },
    Migration { version: 12, name: "tg", sql: include_str!("../migrations/postgres/0012_tg.sql") },
    Migration {
        version: 13,
        name: "quality_rollups",
        sql: include_str!("../migrations/postgres/0013_quality_rollups.sql"),
    },
    Migration {
        version: 15,
        name: "button_choices",
        sql: include_str!("../migrations/postgres/0015_button_choices.sql"),
    },
    Migration {
        version: 17,
        name: "contact_created",
        sql: include_str!("../migrations/postgres/0017_contact_created.sql"),
    },
    Migration { version: 18, name: "short_search", sql: include_str!("../migrations/postgres/0018_short_search.sql") },
    Migration {
        version: 19,
        name: "rollup_valid_until",
        sql: include_str!("../migrations/postgres/0019_rollup_valid_until.sql"),
    },
];
