-- X (Twitter): posts deleted by their authors (their content is never shown again) and kept
-- activity (likes, follows, retweets) that is not a customer message.
CREATE TABLE x_deleted_posts (
    channel TEXT NOT NULL,
    tweet_id TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    PRIMARY KEY (channel, tweet_id)
);

CREATE TABLE x_activity (
    channel TEXT NOT NULL,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT NOT NULL,
    tweet_id TEXT,
    at INTEGER NOT NULL,
    raw TEXT NOT NULL,
    PRIMARY KEY (channel, event_id)
);
CREATE INDEX x_activity_kind ON x_activity (channel, kind, at);

-- Polling mode: the newest id read from each stream (mentions, dm_events), per channel.
CREATE TABLE x_poll_cursors (
    channel TEXT NOT NULL,
    stream TEXT NOT NULL,
    cursor TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (channel, stream)
);
