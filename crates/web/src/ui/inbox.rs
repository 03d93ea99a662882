//! The inbox: views (mine, unassigned, all), filters, urgency order, unread marks, search.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use switchboard_domain::{ChannelSlug, Priority, Status};
use switchboard_store::{INBOX_COUNT_CAP, InboxCounts, InboxQuery, InboxRow, InboxSort, InboxView};

use super::i18n::Tr;
use super::session::{UiUser, urlencode};
use super::{Chrome, page_error, render, store_error};
use crate::AppState;

const PAGE_SIZE: u32 = 50;

/// Sentiments triage assigns.
const SENTIMENTS: &[&str] = &["negative", "neutral", "positive"];

/// Inbox query parameters; empty values mean "any".
#[derive(Debug, Default, Deserialize, Clone)]
pub(crate) struct InboxParams {
    view: Option<String>,
    status: Option<String>,
    channel: Option<String>,
    priority: Option<String>,
    tag: Option<String>,
    language: Option<String>,
    sentiment: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    page: Option<u32>,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl InboxParams {
    fn view(&self, my_teams: &[String]) -> InboxView {
        match non_empty(&self.view) {
            Some("unassigned") => InboxView::Unassigned,
            Some("all") => InboxView::All,
            Some("teams") => InboxView::Teams(my_teams.to_vec()),
            _ => InboxView::Mine,
        }
    }

    fn view_name(&self) -> &'static str {
        match non_empty(&self.view) {
            Some("unassigned") => "unassigned",
            Some("all") => "all",
            Some("teams") => "teams",
            _ => "mine",
        }
    }

    /// The status filter: `open` unless another status or `any` is chosen.
    fn status_name(&self) -> String {
        non_empty(&self.status).unwrap_or("open").to_owned()
    }

    fn query(&self, me: &UiUser, my_teams: &[String]) -> Result<InboxQuery, &'static str> {
        let status = match self.status_name().as_str() {
            "any" => None,
            s => Some(s.parse::<Status>().map_err(|_| "error-bad-filter")?),
        };
        let channel = non_empty(&self.channel).map(ChannelSlug::parse).transpose().map_err(|_| "error-bad-filter")?;
        let priority =
            non_empty(&self.priority).map(str::parse::<Priority>).transpose().map_err(|_| "error-bad-filter")?;
        let language = non_empty(&self.language).map(str::to_lowercase);
        if language.as_deref().is_some_and(|l| l.len() > 16 || !l.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        {
            return Err("error-bad-filter");
        }
        let sentiment = non_empty(&self.sentiment).map(str::to_owned);
        if sentiment.as_deref().is_some_and(|s| !SENTIMENTS.contains(&s)) {
            return Err("error-bad-filter");
        }
        Ok(InboxQuery {
            user: me.user.id,
            language,
            sentiment,
            view: self.view(my_teams),
            status,
            channel,
            priority,
            tag: non_empty(&self.tag).map(str::to_owned),
            query: non_empty(&self.q).map(str::to_owned),
            sort: match non_empty(&self.sort) {
                Some("recent") => InboxSort::Recent,
                Some("sla") => InboxSort::SlaDue,
                _ => InboxSort::Urgency,
            },
            offset: self.page.unwrap_or(0).min(10_000) * PAGE_SIZE,
            limit: PAGE_SIZE,
        })
    }

    /// The query string with `view` and `page` replaced.
    fn href(&self, view: &str, page: u32) -> String {
        let mut parts = vec![format!("view={view}")];
        for (k, v) in [
            ("status", &self.status),
            ("channel", &self.channel),
            ("priority", &self.priority),
            ("tag", &self.tag),
            ("language", &self.language),
            ("sentiment", &self.sentiment),
            ("q", &self.q),
            ("sort", &self.sort),
        ] {
            if let Some(v) = non_empty(v) {
                parts.push(format!("{k}={}", urlencode(v)));
            }
        }
        if page > 0 {
            parts.push(format!("page={page}"));
        }
        format!("/inbox?{}", parts.join("&"))
    }
}

/// One row as the template shows it.
pub(crate) struct RowView {
    case: String,
    contact: String,
    preview: String,
    channel: String,
    status: &'static str,
    status_label: String,
    priority: &'static str,
    priority_label: String,
    tags: Vec<String>,
    assignee: String,
    time: String,
    time_full: String,
    unread: bool,
}

fn row_view(tr: &Tr, r: &InboxRow, names: &std::collections::HashMap<switchboard_domain::UserId, String>) -> RowView {
    let c = &r.summary.conversation;
    let now = Utc::now();
    let preview: String = r.last_text.as_deref().unwrap_or("").chars().take(140).collect();
    RowView {
        case: c.case_number.to_string(),
        contact: r.summary.contact_name.clone().unwrap_or_else(|| tr.t("contact-unnamed")),
        preview,
        channel: c.channel.as_str().to_owned(),
        status: c.status.as_str(),
        status_label: tr.t(&format!("status-{}", c.status.as_str())),
        priority: c.priority.as_str(),
        priority_label: tr.t(&format!("priority-{}", c.priority.as_str())),
        tags: c.tags.clone(),
        assignee: c.assignee_id.and_then(|a| names.get(&a).cloned()).unwrap_or_default(),
        time: tr.short(&c.last_message_at, &now),
        time_full: tr.datetime(&c.last_message_at),
        unread: r.unread,
    }
}

/// Inbox counts as shown: capped counts read "999+".
#[derive(Clone)]
pub(crate) struct CountsView {
    mine: String,
    mine_unread: String,
    unassigned: String,
    all: String,
}

fn show_count(n: i64) -> String {
    if n >= INBOX_COUNT_CAP { format!("{}+", INBOX_COUNT_CAP - 1) } else { n.to_string() }
}

impl From<InboxCounts> for CountsView {
    fn from(c: InboxCounts) -> Self {
        CountsView {
            mine: show_count(c.mine),
            mine_unread: show_count(c.mine_unread),
            unassigned: show_count(c.unassigned),
            all: show_count(c.all),
        }
    }
}

pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    c: Chrome,
    list_html: String,
    counts: CountsView,
    view: &'static str,
    q: String,
    tag: String,
    language: String,
    sentiments: Vec<Choice>,
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
    channels: Vec<Choice>,
    sorts: Vec<Choice>,
    view_hrefs: [String; 4],
    /// The viewer is in at least one team.
    has_teams: bool,
}

#[derive(Template)]
#[template(path = "inbox_rows.html")]
struct RowsFragment {
    tr: Tr,
    rows: Vec<RowView>,
    counts: CountsView,
    prev_href: Option<String>,
    next_href: Option<String>,
}

/// The teams `me` is a member of.
async fn my_teams(st: &AppState, me: &UiUser) -> Result<Vec<String>, Response> {
    let store = st.engine.store();
    let mut mine = Vec::new();
    for team in store.list_teams().await.map_err(|e| store_error(&me.tr, e))? {
        let members = store.list_team_members(&team.name).await.map_err(|e| store_error(&me.tr, e))?;
        if members.iter().any(|m| m.user_id == me.user.id) {
            mine.push(team.name);
        }
    }
    Ok(mine)
}

async fn load(st: &AppState, me: &UiUser, p: &InboxParams) -> Result<RowsFragment, Response> {
    let teams = if p.view_name() == "teams" { my_teams(st, me).await? } else { Vec::new() };
    let q = p.query(me, &teams).map_err(|k| page_error(&me.tr, StatusCode::BAD_REQUEST, k))?;
    let store = st.engine.store();
    let (page, counts, users) = tokio::try_join!(store.inbox(&q), store.inbox_counts(me.user.id), store.list_users())
        .map_err(|e| store_error(&me.tr, e))?;
    let names = users.into_iter().map(|u| (u.id, u.name)).collect();
    let n = p.page.unwrap_or(0);
    Ok(RowsFragment {
        tr: me.tr.clone(),
        rows: page.rows.iter().map(|r| row_view(&me.tr, r, &names)).collect(),
        counts: counts.into(),
        prev_href: (n > 0).then(|| p.href(p.view_name(), n - 1)),
        next_href: page.has_more.then(|| p.href(p.view_name(), n + 1)),
    })
}

fn choices<'a>(tr: &Tr, prefix: &str, values: impl IntoIterator<Item = &'a str>, current: &str) -> Vec<Choice> {
    values
        .into_iter()
        .map(|v| Choice {
            value: v.to_owned(),
            label: tr.t(&format!("{prefix}{}", if v.is_empty() { "any" } else { v })),
            selected: v == current,
        })
        .collect()
}

/// `GET /inbox`.
pub(crate) async fn page(State(st): State<AppState>, me: UiUser, Query(p): Query<InboxParams>) -> Response {
    let list = match load(&st, &me, &p).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let has_teams = match my_teams(&st, &me).await {
        Ok(t) => !t.is_empty(),
        Err(r) => return r,
    };
    let channels = match st.engine.store().list_channels().await {
        Ok(c) => c,
        Err(e) => return store_error(&me.tr, e),
    };
    let tr = &me.tr;
    let current_channel = non_empty(&p.channel).unwrap_or("");
    let mut channel_choices =
        vec![Choice { value: String::new(), label: tr.t("filter-any-channel"), selected: current_channel.is_empty() }];
    channel_choices.extend(channels.iter().map(|ch| Choice {
        value: ch.slug.as_str().to_owned(),
        label: ch.name.clone(),
        selected: ch.slug.as_str() == current_channel,
    }));
    let status = p.status_name();
    let priority = non_empty(&p.priority).unwrap_or("").to_owned();
    let sort = non_empty(&p.sort).unwrap_or("urgency").to_owned();
    let page = InboxPage {
        c: me.chrome("inbox"),
        view: p.view_name(),
        q: non_empty(&p.q).unwrap_or("").to_owned(),
        tag: non_empty(&p.tag).unwrap_or("").to_owned(),
        statuses: choices(tr, "status-", ["open", "pending", "snoozed", "resolved", "closed", "any"], &status),
        priorities: choices(tr, "priority-", ["", "urgent", "high", "normal", "low"], &priority),
        channels: channel_choices,
        sorts: {
            let mut s = choices(tr, "sort-", ["urgency", "recent"], &sort);
            s.push(Choice { value: "sla".into(), label: tr.t("uiadmin-sort-sla"), selected: sort == "sla" });
            s
        },
        language: non_empty(&p.language).unwrap_or("").to_owned(),
        sentiments: {
            let current = non_empty(&p.sentiment).unwrap_or("");
            let label = |v: &str| match v {
                "negative" => tr.t("uiadmin-sentiment-negative"),
                "neutral" => tr.t("uiadmin-sentiment-neutral"),
                "positive" => tr.t("uiadmin-sentiment-positive"),
                _ => tr.t("uiadmin-sentiment-any"),
            };
            ["", "negative", "neutral", "positive"]
                .into_iter()
                .map(|v| Choice { value: v.to_owned(), label: label(v), selected: v == current })
                .collect()
        },
        view_hrefs: [p.href("mine", 0), p.href("unassigned", 0), p.href("all", 0), p.href("teams", 0)],
        has_teams,
        counts: list.counts.clone(),
        list_html: list.render().unwrap_or_default(),
    };
    render(&page)
}

/// `GET /inbox/rows`: the list alone, for live refreshes.
pub(crate) async fn rows(State(st): State<AppState>, me: UiUser, Query(p): Query<InboxParams>) -> Response {
    match load(&st, &me, &p).await {
        Ok(l) => render(&l),
        Err(r) => r,
    }
}
