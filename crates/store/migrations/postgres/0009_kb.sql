-- Knowledge base and FAQ bot (issue 9, docs/kb-bot.md).
CREATE TABLE kb_articles (
    id UUID PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    tags JSONB NOT NULL,
    intents JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE kb_translations (
    article_id UUID NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    locale TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'published')),
    version BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (article_id, locale)
);

CREATE TABLE kb_versions (
    article_id UUID NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    locale TEXT NOT NULL,
    version BIGINT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    edited_by UUID,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (article_id, locale, version)
);

CREATE TABLE kb_votes (
    article_id UUID NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    locale TEXT NOT NULL,
    voter TEXT NOT NULL,
    helpful BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (article_id, locale, voter)
);

CREATE TABLE bot_settings (
    channel_slug TEXT PRIMARY KEY,
    settings JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE bot_outcomes (
    id UUID PRIMARY KEY,
    conversation_id UUID NOT NULL REFERENCES conversations(id),
    message_id UUID NOT NULL,
    channel_slug TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('answered', 'helped', 'not_helped', 'handed_off')),
    reason TEXT NOT NULL,
    article_id UUID,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (message_id, outcome)
);
CREATE INDEX bot_outcomes_conversation ON bot_outcomes (conversation_id, created_at);
CREATE INDEX bot_outcomes_created ON bot_outcomes (created_at);

CREATE TABLE bot_cursor (
    name TEXT PRIMARY KEY,
    message_id UUID NOT NULL
);
