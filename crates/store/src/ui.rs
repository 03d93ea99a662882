//! What the agent and admin web UI persists: login sessions, login throttling, user preferences,
//! user administration, read marks and the inbox query.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::{ChannelSlug, ConversationId, Priority, Role, Status, UserId};

use crate::{ConversationSummary, Result, User};

/// A signed-in browser session. Only the hash of the cookie value is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct UiSession {
    /// SHA-256 (hex) of the session cookie value.
    pub id_hash: String,
    /// Whose session it is.
    pub user_id: UserId,
    /// The token every form and state-changing request must echo.
    pub csrf_token: String,
    /// When the user signed in.
    pub created_at: DateTime<Utc>,
    /// Last request seen (refreshed at most every few minutes).
    pub last_seen_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// A user's own settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPrefs {
    /// UI language (`en`, `zh-CN`); `None` follows the browser.
    pub locale: Option<String>,
    /// IANA time zone (`Asia/Shanghai`); `None` means UTC.
    pub time_zone: Option<String>,
}

/// An administrator's change to a user. `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    /// New display name.
    pub name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// Disable or enable.
    pub disabled: Option<bool>,
    /// New argon2 PHC string.
    pub password_hash: Option<String>,
}

/// Which conversations an inbox shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum InboxView {
    /// Assigned to the viewer.
    #[default]
    Mine,
    /// Assigned to nobody.
    Unassigned,
    /// Everything.
    All,
    /// Owned by one of these teams (the viewer's teams).
    Teams(Vec<String>),
}

/// Order of an inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InboxSort {
    /// Most urgent priority first, then the longest waiting.
    #[default]
    Urgency,
    /// Latest activity first.
    Recent,
    /// The earliest running SLA breach time first; conversations without a running clock after
    /// them, most urgent priority first.
    SlaDue,
}

/// An inbox query for one viewer.
#[derive(Debug, Clone)]
pub struct InboxQuery {
    /// The viewer (for "mine" and unread marks).
    pub user: UserId,
    /// Which conversations.
    pub view: InboxView,
    /// Status; `None` means any.
    pub status: Option<Status>,
    /// Channel.
    pub channel: Option<ChannelSlug>,
    /// Priority.
    pub priority: Option<Priority>,
    /// Conversations carrying this tag.
    pub tag: Option<String>,
    /// The language detected in the latest triaged customer message (`en`, `zh`, …).
    pub language: Option<String>,
    /// The sentiment of the latest triaged customer message (`negative`, `neutral`, `positive`).
    pub sentiment: Option<String>,
    /// A case number, or words in the contact's name or the messages.
    pub query: Option<String>,
    /// Order.
    pub sort: InboxSort,
    /// Rows to skip.
    pub offset: u32,
    /// Page size (1–200).
    pub limit: u32,
}

/// One inbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxRow {
    /// The conversation and its contact's name.
    pub summary: ConversationSummary,
    /// The latest message's text (inbound, outbound or note).
    pub last_text: Option<String>,
    /// Activity since the viewer last opened it.
    pub unread: bool,
}

/// A page of an inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxPage {
    /// The rows.
    pub rows: Vec<InboxRow>,
    /// More rows follow.
    pub has_more: bool,
}

/// Inbox counts stop at this number (shown as "999+"), so a page costs the same whatever the
/// size of the backlog.
pub const INBOX_COUNT_CAP: i64 = 1000;

/// Counts shown beside the inbox views (open conversations), each at most [`INBOX_COUNT_CAP`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxCounts {
    /// Open and assigned to the viewer.
    pub mine: i64,
    /// Of those, with activity the viewer has not seen.
    pub mine_unread: i64,
    /// Open and unassigned.
    pub unassigned: i64,
    /// All open.
    pub all: i64,
}

/// How an inbox text search is answered (see docs/ui.md, *Search*). With few index hits the
/// search starts from the hits: it reads each hit's conversation and sorts the ones in the view.
/// With many, it walks the view in its sort order and checks each conversation against the hits
/// until the page is full, which is cheap when the hits are dense in the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxSearchTuning {
    /// Most index hits (messages plus contacts) for which the search starts from the hits.
    pub join_max_hits: u64,
    /// With more hits for one or two characters, SQLite first walks the view checking each
    /// conversation's texts, and gives up after reading this many rows (conversations and
    /// messages) per row of the page (0: never) for the walk against the hits' conversations.
    pub probe_per_row: u64,
}

impl Default for InboxSearchTuning {
    fn default() -> Self {
        // On SQLite reading a hit's conversation costs about as much as walking a few
        // conversations of the view: 5,000 hits cost about a walk through 15,000.
        Self { join_max_hits: 5_000, probe_per_row: 32 }
    }
}

/// The earliest pending breach timer of conversation `c` (null: no running SLA clock), on both
/// backends.
pub(crate) const SLA_DUE: &str = "(SELECT MIN(t.fire_at) FROM sla_timers t \
     WHERE t.conversation_id = c.id AND t.kind = 'breach' AND t.fired_at IS NULL)";

/// The priority rank both backends sort by; the same expression is indexed (migration 5).
pub(crate) const PRIORITY_RANK: &str =
    "(CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END)";

/// The value of [`PRIORITY_RANK`] for `p`: filtering on it lets the urgency index serve a
/// priority filter.
pub(crate) fn priority_rank(p: Priority) -> i64 {
    match p {
        Priority::Urgent => 0,
        Priority::High => 1,
        Priority::Normal => 2,
        Priority::Low => 3,
    }
}

/// Storage of the web UI.
#[async_trait]
pub trait UiStore: Send + Sync {
    /// Stores a new session.
    async fn create_session(&self, session: &UiSession) -> Result<()>;
    /// The live session with this hash and its enabled user; `None` if unknown, expired or the
    /// user is disabled.
    async fn find_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<Option<(UiSession, User)>>;
    /// Records activity and extends the session.
    async fn touch_session(&self, id_hash: &str, seen: DateTime<Utc>, expires_at: DateTime<Utc>) -> Result<()>;
    /// Ends one session.
    async fn delete_session(&self, id_hash: &str) -> Result<()>;
    /// Ends every session of a user ("log out everywhere"); returns how many.
    async fn delete_user_sessions(&self, user: UserId) -> Result<u64>;

    /// Records a failed sign-in.
    async fn record_login_failure(&self, email: &str, ip: &str, at: DateTime<Utc>) -> Result<()>;
    /// Failed sign-ins since `since`: (for this email, from this address).
    async fn login_failures_since(&self, email: &str, ip: &str, since: DateTime<Utc>) -> Result<(i64, i64)>;
    /// Forgets an email's failures after a successful sign-in.
    async fn clear_login_failures(&self, email: &str) -> Result<()>;

    /// A user's settings (defaults when never set).
    async fn get_prefs(&self, user: UserId) -> Result<UserPrefs>;
    /// Replaces a user's settings.
    async fn set_prefs(&self, user: UserId, prefs: &UserPrefs) -> Result<()>;
    /// Changes a user; `NotFound` if there is none.
    async fn update_user(&self, user: UserId, update: &UserUpdate) -> Result<User>;

    /// Marks a conversation read by a user up to `at`.
    async fn mark_read(&self, user: UserId, conversation: ConversationId, at: DateTime<Utc>) -> Result<()>;
    /// One page of an inbox.
    async fn inbox(&self, query: &InboxQuery) -> Result<InboxPage>;
    /// Open-conversation counts for the inbox views of `user`.
    async fn inbox_counts(&self, user: UserId) -> Result<InboxCounts>;
}
