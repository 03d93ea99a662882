//! One conversation: the whole history with the contact, the contact panel, the composer and
//! the actions (assign, status, priority, tags, snooze).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use switchboard_domain::{
    CaseNumber, ChannelKind, Conversation, ConversationId, Direction, Message, Priority, Role, Status, UserId,
    Visibility,
};
use switchboard_engine::RealtimeEvent;
use switchboard_store::{ConversationFilter, ConversationPatch, MessageKind, NewAuditEntry, NewMessage, User};

use super::form::{CheckedForm, has_csrf};
use super::i18n::Tr;
use super::inbox::Choice;
use super::session::UiUser;
use super::{Chrome, audit, page_error, render, store_error};
use crate::AppState;

/// Longest reply or note, in bytes (as the API).
const MAX_TEXT: usize = 64 * 1024;
/// Earlier cases of the contact shown in the thread.
const HISTORY_CASES: u32 = 10;

pub(crate) struct AttachmentView {
    label: String,
    url: Option<String>,
}

pub(crate) struct MsgView {
    id: String,
    /// `inbound`, `outbound` or `note`.
    kind: &'static str,
    public: bool,
    who: String,
    text: String,
    time: String,
    delivery: Option<&'static str>,
    delivery_label: String,
    failure: String,
    attachments: Vec<AttachmentView>,
    /// Customer messages, once the triage step has run.
    triage: Option<super::triage::TriageView>,
    /// The customer edited it: when, and the earlier texts.
    edited: Option<EditedView>,
}

pub(crate) struct EditedView {
    time: String,
    /// (when written, text), oldest first.
    previous: Vec<(String, String)>,
}

pub(crate) struct CaseBlock {
    case: String,
    channel: String,
    status_label: String,
    current: bool,
    messages: Vec<MsgView>,
}

pub(crate) struct Header {
    case: String,
    status: &'static str,
    status_label: String,
    priority: &'static str,
    priority_label: String,
    assignee: String,
    assignee_id: String,
    tags: Vec<String>,
    snoozed_until: String,
    /// Running SLA clocks.
    sla: Vec<SlaView>,
}

/// One running SLA clock as the header shows it.
pub(crate) struct SlaView {
    text: String,
    breached: bool,
}

#[derive(Template)]
#[template(path = "thread.html")]
pub(crate) struct Thread {
    tr: Tr,
    csrf: String,
    header: Header,
    blocks: Vec<CaseBlock>,
}

pub(crate) struct IdentityView {
    channel: String,
    handle: String,
}

pub(crate) struct PastCase {
    case: String,
    channel: String,
    status_label: String,
    date: String,
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPage {
    c: Chrome,
    case: String,
    conversation_id: String,
    contact_name: String,
    contact_email: String,
    identities: Vec<IdentityView>,
    past_cases: Vec<PastCase>,
    channel: String,
    channel_kind: &'static str,
    char_limit: usize,
    reply_public: bool,
    closed: bool,
    idem: String,
    thread_html: String,
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
    assignees: Vec<Choice>,
    tags: String,
    snooze_value: String,
    assigned_to_me: bool,
    /// The provider's customer-service window, when the channel has one.
    window: Option<WindowView>,
    /// WhatsApp: templates can be sent (the picker is shown when the window is closed).
    templates: bool,
    /// The channel's approved templates (the picker); empty: name and language are typed.
    approved: Vec<TemplateChoice>,
    /// The template language to suggest.
    template_language: &'static str,
    /// The contact's notes (`contact_notes.rs`).
    notes: super::contact_notes::NotesPanel,
    /// The contact's survey answers (issue 10).
    satisfaction: Vec<super::reports::SurveyView>,
}

/// An approved WhatsApp template in the picker.
pub(crate) struct TemplateChoice {
    value: String,
    label: String,
    body: String,
    params: usize,
}

/// The customer-service window (WhatsApp, Messenger, Instagram) as the composer shows it.
pub(crate) struct WindowView {
    open: bool,
    text: String,
}

/// The window state in the user's language; `None` when the channel has no window.
async fn window_view(st: &AppState, tr: &Tr, conv: &Conversation, visibility: Visibility) -> Option<WindowView> {
    let (_, w) = match crate::api::messaging::window(st, conv, visibility).await {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e.message, "cannot read the messaging window");
            return None;
        }
    };
    if !w.applies {
        return None;
    }
    let reason = match tr.locale {
        super::i18n::Locale::ZhCn => w.reason_zh.or(w.reason),
        super::i18n::Locale::En => w.reason,
    };
    Some(if w.open {
        let until = w.human_agent_until.or(w.closes_at).map(|t| tr.datetime(&t)).unwrap_or_default();
        WindowView { open: true, text: tr.t1("composer-window-open", "time", &until) }
    } else {
        WindowView { open: false, text: tr.t1("composer-window-closed", "reason", &reason.unwrap_or_default()) }
    })
}

fn safe_url(u: &Option<String>) -> Option<String> {
    u.as_ref().filter(|u| u.starts_with("https://") || u.starts_with("http://")).cloned()
}

fn msg_view(
    tr: &Tr,
    m: &Message,
    names: &HashMap<UserId, String>,
    contact: &str,
    triage: Option<&switchboard_store::MessageTriage>,
    edit: Option<&switchboard_store::MessageHistory>,
) -> MsgView {
    let kind = match m.direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
        Direction::Note => "note",
    };
    let who = match m.direction {
        Direction::Inbound => contact.to_owned(),
        _ => m.author_id.and_then(|a| names.get(&a).cloned()).unwrap_or_else(|| tr.t("author-system")),
    };
    MsgView {
        id: m.id.to_string(),
        kind,
        public: m.visibility == Visibility::Public && m.direction != Direction::Note,
        who,
        text: m.text.clone(),
        time: tr.datetime(&m.sent_at),
        delivery: m.delivery_status.map(|d| d.as_str()),
        delivery_label: m.delivery_status.map(|d| tr.t(&format!("delivery-{}", d.as_str()))).unwrap_or_default(),
        failure: m.failure_reason.clone().unwrap_or_default(),
        attachments: m
            .attachments
            .iter()
            .enumerate()
            .map(|(i, a)| AttachmentView {
                label: a.filename.clone().unwrap_or_else(|| tr.t(&format!("attachment-{}", attachment_kind(&a.kind)))),
                // Provider media downloaded by Switchboard is served to signed-in agents.
                url: safe_url(&a.url)
                    .or_else(|| a.provider_id.as_ref().map(|_| format!("/ui/attachments/{}/{i}", m.id))),
            })
            .collect(),
        triage: triage.map(|t| super::triage::view(tr, t)),
        edited: edit.map(|h| EditedView {
            time: tr.datetime(&h.edited_at),
            previous: h.previous.iter().map(|v| (tr.datetime(&v.written_at), v.text.clone())).collect(),
        }),
    }
}

/// Attachment kinds with their own label; anything else is a "file".
fn attachment_kind(kind: &str) -> &'static str {
    match kind {
        "image" => "image",
        "audio" => "audio",
        "video" => "video",
        "location" => "location",
        "sticker" => "sticker",
        _ => "file",
    }
}

async fn resolve(st: &AppState, tr: &Tr, case: &str) -> Result<Conversation, Response> {
    let n = CaseNumber::parse(case).map_err(|_| page_error(tr, StatusCode::NOT_FOUND, "error-not-found"))?;
    st.engine
        .store()
        .get_conversation_by_case(n)
        .await
        .map_err(|e| store_error(tr, e))?
        .ok_or_else(|| page_error(tr, StatusCode::NOT_FOUND, "error-not-found"))
}

struct Loaded {
    conv: Conversation,
    contact: Option<switchboard_domain::Contact>,
    others: Vec<Conversation>,
    thread: Thread,
    users: Vec<User>,
}

async fn load(st: &AppState, me: &UiUser, case: &str) -> Result<Loaded, Response> {
    let tr = &me.tr;
    let conv = resolve(st, tr, case).await?;
    let store = st.engine.store();
    let err = |e| store_error(tr, e);
    let history_filter =
        ConversationFilter { contact: Some(conv.contact_id), limit: HISTORY_CASES + 1, ..Default::default() };
    let (contact, users, history) = tokio::try_join!(
        store.get_contact(conv.contact_id),
        store.list_users(),
        store.list_conversations(&history_filter),
    )
    .map_err(err)?;
    let names: HashMap<UserId, String> = users.iter().map(|u| (u.id, u.name.clone())).collect();
    let contact_name = contact.as_ref().and_then(|c| c.name.clone()).unwrap_or_else(|| tr.t("contact-unnamed"));
    // Oldest case first, this one last: the whole history reads top to bottom.
    let mut others: Vec<Conversation> =
        history.items.into_iter().map(|s| s.conversation).filter(|c| c.id != conv.id).collect();
    others.sort_by_key(|c| c.created_at);
    let mut blocks = Vec::new();
    for c in others.iter().chain(std::iter::once(&conv)) {
        let (msgs, triage, edits) = tokio::try_join!(
            store.list_messages(c.id),
            store.conversation_message_triage(c.id),
            store.edit_histories(c.id)
        )
        .map_err(err)?;
        let triage: HashMap<_, _> = triage.into_iter().map(|t| (t.message_id, t)).collect();
        let edits: HashMap<_, _> = edits.into_iter().map(|h| (h.message_id, h)).collect();
        blocks.push(CaseBlock {
            case: c.case_number.to_string(),
            channel: c.channel.as_str().to_owned(),
            status_label: tr.t(&format!("status-{}", c.status.as_str())),
            current: c.id == conv.id,
            messages: msgs
                .iter()
                .map(|m| msg_view(tr, m, &names, &contact_name, triage.get(&m.id), edits.get(&m.id)))
                .collect(),
        });
    }
    // SLA clocks (issue 8): the running ones, with their due time in the agent's zone.
    let sla = match st.engine.routing().sla_status(&conv).await {
        Ok(clocks) => clocks
            .iter()
            .filter(|c| c.stopped_at.is_none())
            .map(|c| {
                let what = tr.t(&format!("sla-{}", c.metric.as_str()));
                let text = match (c.paused, c.due_at) {
                    (true, _) => tr.t1("sla-paused", "what", &what),
                    (false, Some(due)) => {
                        let mut args = tr.t1("sla-due", "what", &what);
                        args = args.replace("__TIME__", &tr.datetime(&due));
                        args
                    }
                    (false, None) => what,
                };
                SlaView { text, breached: c.breached }
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read SLA clocks");
            Vec::new()
        }
    };
    let header = Header {
        sla,
        case: conv.case_number.to_string(),
        status: conv.status.as_str(),
        status_label: tr.t(&format!("status-{}", conv.status.as_str())),
        priority: conv.priority.as_str(),
        priority_label: tr.t(&format!("priority-{}", conv.priority.as_str())),
        assignee: conv.assignee_id.and_then(|a| names.get(&a).cloned()).unwrap_or_default(),
        assignee_id: conv.assignee_id.map(|a| a.to_string()).unwrap_or_default(),
        tags: conv.tags.clone(),
        snoozed_until: conv.snoozed_until.map(|t| tr.datetime(&t)).unwrap_or_default(),
    };
    if let Err(e) = store.mark_read(me.user.id, conv.id, Utc::now()).await {
        tracing::warn!(error = %e, "cannot mark conversation read");
    }
    let thread = Thread { tr: tr.clone(), csrf: me.session.csrf_token.clone(), header, blocks };
    Ok(Loaded { thread, conv, contact, others, users })
}

/// The character limit the channel's provider imposes on a reply.
fn char_limit(kind: ChannelKind) -> usize {
    match kind {
        ChannelKind::X => 280,
        ChannelKind::Whatsapp | ChannelKind::Telegram => 4096,
        ChannelKind::Messenger | ChannelKind::Instagram => 2000,
        _ => 0,
    }
}

/// The length of a reply as the channel's provider counts it: X weighs CJK characters and emoji
/// as 2 and every URL as 23 (the same rule its sender enforces); others count characters.
fn reply_length(kind: ChannelKind, text: &str) -> usize {
    match kind {
        ChannelKind::X => switchboard_channels::x::text::weighted_length(text),
        _ => text.chars().count(),
    }
}

/// `GET /c/{case}`.
pub(crate) async fn page(State(st): State<AppState>, me: UiUser, Path(case): Path<String>) -> Response {
    let l = match load(&st, &me, &case).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let tr = &me.tr;
    let store = st.engine.store();
    let (kind, approved) = match st.channels.get(store, &l.conv.channel).await {
        Ok(Some(ch)) => (ch.kind, super::wa_templates::approved(&ch.config)),
        _ => (ChannelKind::Api, Vec::new()),
    };
    let messages_here = l.thread.blocks.last().map(|b| &b.messages);
    let reply_public =
        messages_here.and_then(|ms| ms.iter().rev().find(|m| m.kind == "inbound")).map(|m| m.public).unwrap_or(false);
    let current_assignee = l.conv.assignee_id.map(|a| a.to_string()).unwrap_or_default();
    let mut assignees =
        vec![Choice { value: String::new(), label: tr.t("assign-nobody"), selected: current_assignee.is_empty() }];
    for u in l.users.iter().filter(|u| !u.disabled) {
        // Agents may take a conversation, not hand it to someone else.
        let allowed = me.user.role != Role::Agent || u.id == me.user.id || Some(u.id) == l.conv.assignee_id;
        if allowed {
            let id = u.id.to_string();
            assignees.push(Choice { selected: id == current_assignee, value: id, label: u.name.clone() });
        }
    }
    let status_choices = Status::ALL
        .iter()
        .map(|s| Choice {
            value: s.as_str().to_owned(),
            label: tr.t(&format!("status-{}", s.as_str())),
            selected: *s == l.conv.status,
        })
        .collect();
    let priority_choices = Priority::ALL
        .iter()
        .map(|p| Choice {
            value: p.as_str().to_owned(),
            label: tr.t(&format!("priority-{}", p.as_str())),
            selected: *p == l.conv.priority,
        })
        .collect();
    let contact = l.contact.as_ref();
    let window = window_view(&st, tr, &l.conv, crate::api::messaging::thread_visibility(&l.conv)).await;
    let notes = match super::contact_notes::panel(&st, &me, l.conv.contact_id, &l.conv.case_number.to_string()).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let page = ConversationPage {
        notes,
        satisfaction: super::reports::satisfaction(&st, tr, l.conv.contact_id).await,
        templates: kind == ChannelKind::Whatsapp,
        approved: approved
            .iter()
            .map(|t| TemplateChoice {
                value: t.key(),
                label: format!("{} ({})", t.name, t.language),
                body: t.body.clone(),
                params: t.params(),
            })
            .collect(),
        template_language: match tr.locale {
            super::i18n::Locale::ZhCn => "zh_CN",
            super::i18n::Locale::En => "en_US",
        },
        window,
        c: me.chrome("inbox"),
        case: l.conv.case_number.to_string(),
        conversation_id: l.conv.id.to_string(),
        contact_name: contact.and_then(|c| c.name.clone()).unwrap_or_else(|| tr.t("contact-unnamed")),
        contact_email: contact.and_then(|c| c.email.clone()).unwrap_or_default(),
        identities: contact
            .map(|c| {
                c.identities
                    .iter()
                    .map(|i| IdentityView {
                        channel: i.channel.as_str().to_owned(),
                        handle: i
                            .handle
                            .clone()
                            .or_else(|| i.display_name.clone())
                            .unwrap_or_else(|| i.provider_user_id.clone()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        past_cases: l
            .others
            .iter()
            .rev()
            .map(|c| PastCase {
                case: c.case_number.to_string(),
                channel: c.channel.as_str().to_owned(),
                status_label: tr.t(&format!("status-{}", c.status.as_str())),
                date: tr.datetime(&c.created_at),
            })
            .collect(),
        channel: l.conv.channel.as_str().to_owned(),
        channel_kind: kind.as_str(),
        char_limit: char_limit(kind),
        reply_public,
        closed: l.conv.status == Status::Closed,
        idem: uuid::Uuid::now_v7().to_string(),
        statuses: status_choices,
        priorities: priority_choices,
        assignees,
        tags: l.conv.tags.join(", "),
        snooze_value: l
            .conv
            .snoozed_until
            .map(|t| t.with_timezone(&tr.tz).format("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default(),
        assigned_to_me: l.conv.assignee_id == Some(me.user.id),
        thread_html: l.thread.render().unwrap_or_default(),
    };
    render(&page)
}

/// `GET /c/{case}/thread`: the header and messages alone, for live refreshes.
pub(crate) async fn thread(State(st): State<AppState>, me: UiUser, Path(case): Path<String>) -> Response {
    match load(&st, &me, &case).await {
        Ok(l) => render(&l.thread),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub(crate) struct ReplyForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    text: String,
    /// `reply` or `note`.
    kind: String,
    /// `public` or `private` (replies only).
    #[serde(default)]
    visibility: Option<String>,
    /// Idempotency key rendered with the form: a double submit posts once.
    #[serde(default)]
    idem: Option<String>,
}

has_csrf!(ReplyForm);

/// `POST /c/{case}/reply`: a reply to the customer or a private note.
pub(crate) async fn reply(
    State(st): State<AppState>,
    me: UiUser,
    Path(case): Path<String>,
    CheckedForm(f): CheckedForm<ReplyForm>,
) -> Response {
    let tr = &me.tr;
    if f.text.trim().is_empty() {
        return page_error(tr, StatusCode::UNPROCESSABLE_ENTITY, "error-empty-message");
    }
    if f.text.len() > MAX_TEXT {
        return page_error(tr, StatusCode::UNPROCESSABLE_ENTITY, "error-message-too-long");
    }
    let kind = match f.kind.as_str() {
        "reply" => MessageKind::Reply,
        "note" => MessageKind::Note,
        _ => return page_error(tr, StatusCode::BAD_REQUEST, "error-bad-form"),
    };
    let visibility = match f.visibility.as_deref() {
        Some("public") => Visibility::Public,
        Some("private") | None => Visibility::Private,
        Some(_) => return page_error(tr, StatusCode::BAD_REQUEST, "error-bad-form"),
    };
    let conv = match resolve(&st, tr, &case).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if kind == MessageKind::Reply
        && let Some(w) = window_view(&st, tr, &conv, visibility).await
        && !w.open
    {
        return super::page_error_text(tr, StatusCode::CONFLICT, w.text);
    }
    let store = st.engine.store();
    let channel_kind = match st.channels.get(store, &conv.channel).await {
        Ok(Some(ch)) => ch.kind,
        _ => ChannelKind::Api,
    };
    let (limit, n) = (char_limit(channel_kind), reply_length(channel_kind, &f.text));
    if kind == MessageKind::Reply && limit > 0 && n > limit {
        // Refused here rather than failing at the provider after it was queued.
        let mut args = fluent_bundle::FluentArgs::new();
        args.set("length", n);
        args.set("limit", limit);
        let why = st.ui.catalogue.get(tr.locale, "error-reply-over-limit", Some(&args));
        return super::page_error_text(tr, StatusCode::UNPROCESSABLE_ENTITY, why);
    }
    let posted = store
        .post_message(&NewMessage {
            conversation_id: conv.id,
            author_id: me.user.id,
            kind,
            visibility,
            text: f.text,
            idempotency_key: f.idem.filter(|k| !k.is_empty() && k.len() <= 255).map(|k| format!("ui:{k}")),
            at: Utc::now(),
        })
        .await;
    match posted {
        Ok((msg, created)) => {
            if created {
                if kind == MessageKind::Reply {
                    st.engine.wake_outbox();
                }
                st.engine
                    .bus()
                    .publish(RealtimeEvent::new("message.created", conv.id, Some(conv.case_number), Some(msg.id)))
                    .await;
            }
            let _ = store.mark_read(me.user.id, conv.id, Utc::now()).await;
            Redirect::to(&format!("/c/{}", conv.case_number)).into_response()
        }
        Err(e) => store_error(tr, e),
    }
}

#[derive(Deserialize)]
pub(crate) struct UpdateForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    /// A one-click action: `resolve`, `reopen`, `assign_me`.
    #[serde(default)]
    quick: Option<String>,
    #[serde(default)]
    status: Option<String>,
    /// A user id, or empty for nobody.
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    /// Comma-separated.
    #[serde(default)]
    tags: Option<String>,
    /// `datetime-local` in the user's time zone.
    #[serde(default)]
    snooze_until: Option<String>,
}

has_csrf!(UpdateForm);

fn build_patch(f: &UpdateForm, me: &UiUser, conv: &Conversation) -> Result<ConversationPatch, &'static str> {
    let mut p = ConversationPatch::default();
    match f.quick.as_deref().filter(|q| !q.is_empty()) {
        Some("resolve") => p.status = Some(Status::Resolved),
        Some("reopen") => p.status = Some(Status::Open),
        Some("assign_me") => p.assignee_id = Some(Some(me.user.id)),
        Some(_) => return Err("error-bad-form"),
        None => {
            if let Some(s) = f.status.as_deref().filter(|s| !s.is_empty()) {
                p.status = Some(s.parse::<Status>().map_err(|_| "error-bad-form")?);
            }
            if let Some(a) = &f.assignee {
                let a = a.trim();
                p.assignee_id =
                    Some(if a.is_empty() { None } else { Some(a.parse::<UserId>().map_err(|_| "error-bad-form")?) });
            }
            if let Some(pr) = f.priority.as_deref().filter(|s| !s.is_empty()) {
                p.priority = Some(pr.parse::<Priority>().map_err(|_| "error-bad-form")?);
            }
            if let Some(t) = &f.tags {
                p.tags = Some(t.split(',').map(str::to_owned).collect());
            }
            if let Some(s) = f.snooze_until.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").map_err(|_| "error-bad-snooze")?;
                let local = me.tr.tz.from_local_datetime(&naive).earliest().ok_or("error-bad-snooze")?;
                let at = local.with_timezone(&Utc);
                if at <= Utc::now() {
                    return Err("error-bad-snooze");
                }
                p.snoozed_until = Some(at);
                if p.status.is_none() || p.status == Some(conv.status) {
                    p.status = Some(Status::Snoozed);
                }
            } else if p.status == Some(Status::Snoozed) && conv.status != Status::Snoozed {
                return Err("error-bad-snooze");
            } else if p.status == Some(Status::Snoozed) {
                // Keep the current wake-up time when the form leaves it as it was.
                p.snoozed_until = conv.snoozed_until;
            }
        }
    }
    // Agents can take a conversation or release it, never hand it to someone else.
    if me.user.role == Role::Agent
        && let Some(Some(other)) = p.assignee_id
        && other != me.user.id
        && Some(other) != conv.assignee_id
    {
        return Err("error-agent-assign");
    }
    Ok(p)
}

/// `POST /c/{case}/update`: status, assignee, priority, tags, snooze.
pub(crate) async fn update(
    State(st): State<AppState>,
    me: UiUser,
    Path(case): Path<String>,
    CheckedForm(f): CheckedForm<UpdateForm>,
) -> Response {
    let tr = &me.tr;
    let conv = match resolve(&st, tr, &case).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let patch = match build_patch(&f, &me, &conv) {
        Ok(p) => p,
        Err(key) => {
            let status =
                if key == "error-agent-assign" { StatusCode::FORBIDDEN } else { StatusCode::UNPROCESSABLE_ENTITY };
            return page_error(tr, status, key);
        }
    };
    let updated = match st.engine.store().update_conversation(conv.id, &patch, Some(me.user.id)).await {
        Ok(u) => u,
        Err(e) => return store_error(tr, e),
    };
    record_sensitive(&st, &me, &conv, &updated).await;
    if updated != conv {
        tracing::info!(case = %updated.case_number, user = %me.user.id, "conversation updated in the UI");
        st.engine
            .bus()
            .publish(RealtimeEvent::new("conversation.updated", updated.id, Some(updated.case_number), None))
            .await;
    }
    Redirect::to(&format!("/c/{}", updated.case_number)).into_response()
}

/// Audits the agent actions that matter beyond the timeline: taking a conversation away from
/// someone, and closing it for good.
async fn record_sensitive(st: &AppState, me: &UiUser, before: &Conversation, after: &Conversation) {
    let entry = |action: &str, b: serde_json::Value, a: serde_json::Value| NewAuditEntry {
        actor_id: Some(me.user.id),
        action: action.to_owned(),
        target: after.case_number.to_string(),
        before: Some(b),
        after: Some(a),
        at: Utc::now(),
    };
    if before.assignee_id.is_some() && before.assignee_id != after.assignee_id {
        let e = entry(
            "conversation.reassign",
            serde_json::json!({ "assignee_id": before.assignee_id }),
            serde_json::json!({ "assignee_id": after.assignee_id }),
        );
        audit(st, e).await;
    }
    if before.status != Status::Closed && after.status == Status::Closed {
        let e = entry(
            "conversation.close",
            serde_json::json!({ "status": before.status }),
            serde_json::json!({ "status": after.status }),
        );
        audit(st, e).await;
    }
}

/// `GET /ui/attachments/{message}/{index}`: a downloaded attachment for a signed-in agent. The
/// file is the customer's content, so it is sandboxed: it can never run script in our origin.
pub(crate) async fn attachment(
    State(st): State<AppState>,
    _me: UiUser,
    Path((id, index)): Path<(String, i32)>,
) -> Response {
    match crate::api::messaging::attachment_file(&st, &id, index).await {
        Ok(mut resp) => {
            let h = resp.headers_mut();
            h.insert("content-security-policy", axum::http::HeaderValue::from_static("sandbox; default-src 'none'"));
            h.insert("x-content-type-options", axum::http::HeaderValue::from_static("nosniff"));
            let inline = h
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with("image/") || t.starts_with("audio/") || t.starts_with("video/"));
            if !inline {
                h.insert(axum::http::header::CONTENT_DISPOSITION, axum::http::HeaderValue::from_static("attachment"));
            }
            resp
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct TemplateForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    /// A template from the channel's approved list (`name|language`); else `name` and `language`.
    #[serde(default)]
    pick: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    language: String,
    /// Body parameters, one per line, in order ({{1}}, {{2}}, …).
    #[serde(default)]
    params: String,
    #[serde(default)]
    idem: Option<String>,
}

has_csrf!(TemplateForm);

/// `POST /c/{case}/template`: an approved WhatsApp template (possible outside the window), sent
/// through the same code as `POST /api/v1/conversations/{id}/template`.
pub(crate) async fn template(
    State(st): State<AppState>,
    me: UiUser,
    Path(case): Path<String>,
    CheckedForm(f): CheckedForm<TemplateForm>,
) -> Response {
    let tr = &me.tr;
    let lines: Vec<&str> = f.params.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let params: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::json!({"type": "text", "text": l})).collect();
    let mut body = serde_json::json!({"name": f.name.trim(), "language": f.language.trim()});
    if !f.pick.is_empty() {
        // One of the channel's approved templates: its name and language, its parameters
        // checked, and the filled-in body as the text agents see in the thread.
        let config = match CaseNumber::parse(&case) {
            Ok(n) => match st.engine.store().get_conversation_by_case(n).await {
                Ok(Some(conv)) => match st.channels.get(st.engine.store(), &conv.channel).await {
                    Ok(Some(ch)) => ch.config,
                    _ => serde_json::Value::Null,
                },
                _ => serde_json::Value::Null,
            },
            Err(_) => serde_json::Value::Null,
        };
        let Some(t) = super::wa_templates::approved(&config).into_iter().find(|t| t.key() == f.pick) else {
            return page_error(tr, StatusCode::UNPROCESSABLE_ENTITY, "template-unknown");
        };
        if lines.len() != t.params() {
            let why = tr.tn("template-params-needed", "count", i64::try_from(t.params()).unwrap_or(0));
            return super::page_error_text(tr, StatusCode::UNPROCESSABLE_ENTITY, why);
        }
        body = serde_json::json!({"name": t.name, "language": t.language, "preview": t.fill(&lines)});
    }
    if !params.is_empty() {
        body["components"] = serde_json::json!([{"type": "body", "parameters": params}]);
    }
    let Ok(body) = serde_json::from_value(body) else {
        return page_error(tr, StatusCode::BAD_REQUEST, "error-bad-form");
    };
    let mut h = HeaderMap::new();
    if let Some(k) = f.idem.filter(|k| !k.is_empty() && k.len() <= 200)
        && let Ok(v) = axum::http::HeaderValue::from_str(&format!("ui-template:{k}"))
    {
        h.insert("idempotency-key", v);
    }
    let caller = crate::auth::Caller { user_id: me.user.id, role: me.user.role };
    let sent = crate::api::messaging::post_template(
        State(st.clone()),
        caller,
        Path(case.clone()),
        h,
        crate::extract::Json(body),
    )
    .await;
    match sent {
        Ok(_) => {
            if let Ok(n) = CaseNumber::parse(&case)
                && let Ok(Some(c)) = st.engine.store().get_conversation_by_case(n).await
            {
                let _ = st.engine.store().mark_read(me.user.id, c.id, Utc::now()).await;
            }
            Redirect::to(&format!("/c/{case}")).into_response()
        }
        Err(e) => super::page_error_text(tr, e.status, e.message),
    }
}

/// The conversation id of a case, for the presence endpoint.
pub(crate) async fn id_of(st: &AppState, case: &str) -> Option<ConversationId> {
    let n = CaseNumber::parse(case).ok()?;
    st.engine.store().get_conversation_by_case(n).await.ok().flatten().map(|c| c.id)
}
