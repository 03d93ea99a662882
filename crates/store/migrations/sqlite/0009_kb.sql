-- Knowledge base and FAQ bot (issue 9, docs/kb-bot.md).
CREATE TABLE kb_articles (
    id BLOB PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    tags TEXT NOT NULL,
    intents TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE kb_translations (
    article_id BLOB NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    locale TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'published')),
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (article_id, locale)
);

CREATE TABLE kb_versions (
    article_id BLOB NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    locale TEXT NOT NULL,
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    edited_by BLOB,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (article_id, locale, version)
);

CREATE TABLE kb_votes (
    article_id BLOB NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    locale TEXT NOT NULL,
    voter TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (article_id, locale, voter)
);

CREATE TABLE bot_settings (
    channel_slug TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE bot_outcomes (
    id BLOB PRIMARY KEY,
    conversation_id BLOB NOT NULL REFERENCES conversations(id),
    message_id BLOB NOT NULL,
    channel_slug TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('answered', 'helped', 'not_helped', 'handed_off')),
    reason TEXT NOT NULL,
    article_id BLOB,
    created_at INTEGER NOT NULL,
    UNIQUE (message_id, outcome)
);
CREATE INDEX bot_outcomes_conversation ON bot_outcomes (conversation_id, created_at);
CREATE INDEX bot_outcomes_created ON bot_outcomes (created_at);

CREATE TABLE bot_cursor (
    name TEXT PRIMARY KEY,
    message_id BLOB NOT NULL
);
