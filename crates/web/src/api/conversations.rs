//! Conversations and messages.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use switchboard_domain::{
    CaseNumber, ChannelSlug, Contact, Conversation, ConversationFact, ConversationId, Direction, Message, MessageId,
    Priority, Role, Status, UserId, Visibility,
};
use switchboard_engine::RealtimeEvent;
use switchboard_store::{
    ConversationFilter, ConversationPatch, ConversationSummary, MessageKind, MessageTriage, NewMessage,
};

use crate::AppState;
use crate::api::triage::TriageBody;
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};
use crate::extract::{Json, Query};

/// Query parameters of the conversation list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct ListParams {
    /// open, pending, snoozed, resolved or closed.
    status: Option<String>,
    /// Channel slug.
    channel: Option<String>,
    /// A user id, `me`, or `none` for unassigned.
    assignee: Option<String>,
    /// Team name.
    team: Option<String>,
    /// low, normal, high or urgent.
    priority: Option<String>,
    /// Case number, or text in the contact's name or the messages.
    q: Option<String>,
    /// Cursor from the previous page's `next_cursor`.
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
}

fn parse_param<T: std::str::FromStr<Err = switchboard_domain::ParseError>>(v: Option<&str>) -> ApiResult<Option<T>> {
    v.filter(|s| !s.is_empty())
        .map(|s| s.parse::<T>().map_err(|e| AppError::bad_request("invalid_query", e.to_string())))
        .transpose()
}

/// A page of conversations.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ConversationPage {
    items: Vec<ConversationSummary>,
    next_cursor: Option<String>,
}

/// Lists conversations, most recent activity first.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", params(ListParams),
    responses((status = 200, body = ConversationPage), (status = 400, body = crate::error::ErrorBody)))]
pub(crate) async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> ApiResult<impl IntoResponse> {
    let assignee = match p.assignee.as_deref() {
        None | Some("") => None,
        Some("none") => Some(None),
        Some("me") => Some(Some(caller.user_id)),
        Some(s) => Some(Some(s.parse::<UserId>().map_err(|_| {
            AppError::bad_request("invalid_query", format!("assignee {s:?} is not a user id, `me` or `none`"))
        })?)),
    };
    let channel = p
        .channel
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| ChannelSlug::parse(s).map_err(|e| AppError::bad_request("invalid_query", e.to_string())))
        .transpose()?;
    let filter = ConversationFilter {
        status: parse_param::<Status>(p.status.as_deref())?,
        channel,
        assignee,
        team: p.team.filter(|t| !t.is_empty()),
        priority: parse_param::<Priority>(p.priority.as_deref())?,
        contact: None,
        query: p.q,
        cursor: p.cursor.filter(|c| !c.is_empty()),
        limit: p.limit.unwrap_or(50),
    };
    let page = st.engine.store().list_conversations(&filter).await?;
    Ok(axum::Json(ConversationPage { items: page.items, next_cursor: page.next_cursor }))
}

/// A conversation with everything an agent needs to answer it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ConversationDetail {
    conversation: Conversation,
    contact: Option<Contact>,
    messages: Vec<MessageView>,
    facts: Vec<ConversationFact>,
    /// SLA clocks with due times (fired automation rules are `rule_fired` facts).
    sla: Vec<switchboard_domain::sla::SlaStatus>,
    /// The triage of the latest triaged customer message (absent while triage is off or has
    /// not run yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    triage: Option<TriageBody>,
}

/// A message with its triage (inbound messages, once the triage step has run).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct MessageView {
    #[serde(flatten)]
    message: Message,
    /// Language, sentiment, intent, suggested priority with reasons, and PII kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    triage: Option<TriageBody>,
    /// Present when the customer edited the message: when the text shown was written, and the
    /// earlier texts, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    edited: Option<EditedBody>,
}

/// The edit history of a message.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EditedBody {
    /// When the text shown was written.
    at: chrono::DateTime<chrono::Utc>,
    /// Earlier texts with the times they were written, oldest first.
    previous: Vec<switchboard_store::MessageVersion>,
}

impl From<switchboard_store::MessageHistory> for EditedBody {
    fn from(h: switchboard_store::MessageHistory) -> Self {
        Self { at: h.edited_at, previous: h.previous }
    }
}

/// Resolves a path segment that is a conversation id or a case number.
pub(crate) async fn resolve(st: &AppState, id: &str) -> ApiResult<Conversation> {
    let store = st.engine.store();
    let found = if let Ok(uuid) = id.parse::<ConversationId>() {
        store.get_conversation(uuid).await?
    } else if let Ok(case) = CaseNumber::parse(id) {
        store.get_conversation_by_case(case).await?
    } else {
        return Err(AppError::bad_request(
            "invalid_id",
            format!("{id:?} is neither a conversation id nor a case number like SB-000123"),
        ));
    };
    found.ok_or_else(|| AppError::not_found("conversation"))
}

/// One conversation (by id or case number) with its contact, messages and timeline.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id or case number (SB-000123)")),
    responses((status = 200, body = ConversationDetail), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn get_one(
    State(st): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let conversation = resolve(&st, &id).await?;
    let store = st.engine.store();
    let contact = store.get_contact(conversation.contact_id).await?;
    let messages = store.list_messages(conversation.id).await?;
    let mut triage: std::collections::HashMap<MessageId, MessageTriage> =
        store.conversation_message_triage(conversation.id).await?.into_iter().map(|t| (t.message_id, t)).collect();
    let latest = triage.values().max_by_key(|t| (t.created_at, t.message_id)).cloned().map(TriageBody::from);
    let mut edits: std::collections::HashMap<MessageId, switchboard_store::MessageHistory> =
        store.edit_histories(conversation.id).await?.into_iter().map(|h| (h.message_id, h)).collect();
    let messages = messages
        .into_iter()
        .map(|m| {
            let t = triage.remove(&m.id).map(TriageBody::from);
            let edited = edits.remove(&m.id).map(EditedBody::from);
            MessageView { message: m, triage: t, edited }
        })
        .collect();
    let facts = store.list_facts(conversation.id).await?;
    let sla = st.engine.routing().sla_status(&conversation).await?;
    Ok(axum::Json(ConversationDetail { conversation, contact, messages, facts, sla, triage: latest }))
}

/// Changes status, assignee, priority, team or tags. Each change is recorded on the timeline.
#[utoipa::path(patch, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id or case number")),
    request_body = ConversationPatch,
    responses((status = 200, body = Conversation), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "Not allowed from the current state", body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn patch(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(patch): Json<ConversationPatch>,
) -> ApiResult<impl IntoResponse> {
    let conv = resolve(&st, &id).await?;
    if caller.role == Role::Agent
        && let Some(Some(other)) = patch.assignee_id
        && other != caller.user_id
    {
        return Err(AppError::forbidden("agents can assign conversations only to themselves"));
    }
    let updated = st.engine.store().update_conversation(conv.id, &patch, Some(caller.user_id)).await?;
    tracing::info!(case = %updated.case_number, user = %caller.user_id, "conversation updated");
    st.engine
        .bus()
        .publish(RealtimeEvent::new("conversation.updated", updated.id, Some(updated.case_number), None))
        .await;
    Ok(axum::Json(updated))
}

/// A reply or internal note.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct NewMessageBody {
    /// The text.
    text: String,
    /// `reply` (default) or `note`.
    #[serde(default)]
    kind: Option<MessageKind>,
    /// For replies: `public` or `private`. Defaults to the visibility of the customer's last message.
    #[serde(default)]
    visibility: Option<Visibility>,
    /// X public replies: send although the PII guard found private data (recorded on the timeline).
    #[serde(default)]
    pii_override: bool,
}

/// Longest reply or note, in bytes.
const MAX_REPLY_LEN: usize = 64 * 1024;

/// Posts a reply (queued for delivery through the outbox) or an internal note. With an
/// `Idempotency-Key` header, repeating the request never creates a second message.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id or case number"),
        ("Idempotency-Key" = Option<String>, Header, description = "Client key: the same key never creates two messages")),
    request_body = NewMessageBody,
    responses((status = 201, body = Message), (status = 200, description = "Replay of an earlier request with the same key", body = Message),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn post_message(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<NewMessageBody>,
) -> ApiResult<impl IntoResponse> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v
                .to_str()
                .map_err(|_| AppError::bad_request("invalid_header", "Idempotency-Key must be visible ASCII"))?
                .trim();
            if k.is_empty() || k.len() > 255 {
                return Err(AppError::bad_request("invalid_header", "Idempotency-Key must be 1-255 characters"));
            }
            Some(k.to_owned())
        }
    };
    if body.text.trim().is_empty() {
        return Err(AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload", "text must not be empty"));
    }
    if body.text.len() > MAX_REPLY_LEN {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_payload",
            format!("text is longer than {MAX_REPLY_LEN} bytes"),
        ));
    }
    let conv = resolve(&st, &id).await?;
    let store = st.engine.store();
    let kind = body.kind.unwrap_or(MessageKind::Reply);
    let visibility = match body.visibility {
        Some(v) => v,
        None => store
            .list_messages(conv.id)
            .await?
            .iter()
            .rev()
            .find(|m| m.direction == Direction::Inbound)
            .map(|m| m.visibility)
            .unwrap_or(Visibility::Private),
    };
    if kind == MessageKind::Reply {
        super::messaging::require_open_window(&st, &conv, visibility).await?;
    }
    let pii_override = if kind == MessageKind::Reply {
        super::x_rules::check_reply(&st, &conv, visibility, &body.text, body.pii_override).await?
    } else {
        None
    };
    let (msg, created) = store
        .post_message(&NewMessage {
            conversation_id: conv.id,
            author_id: caller.user_id,
            kind,
            visibility,
            text: body.text,
            idempotency_key: key,
            at: Utc::now(),
        })
        .await?;
    if created {
        if let Some(o) = pii_override {
            super::x_rules::record_override(&st, &conv, Some(caller.user_id), msg.id, o).await?;
        }
        if kind == MessageKind::Reply {
            st.engine.wake_outbox();
        }
        st.engine
            .bus()
            .publish(RealtimeEvent::new("message.created", conv.id, Some(conv.case_number), Some(msg.id)))
            .await;
    }
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, axum::Json(msg)))
}

/// One message, with its delivery status and (inbound, once triaged) its triage.
#[utoipa::path(get, path = "/api/v1/messages/{id}", tag = "conversations",
    params(("id" = String, Path, description = "Message id")),
    responses((status = 200, body = MessageView), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn get_message(
    State(st): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let id = id.parse::<MessageId>().map_err(|_| AppError::bad_request("invalid_id", "not a message id"))?;
    let store = st.engine.store();
    let msg = store.get_message(id).await?.ok_or_else(|| AppError::not_found("message"))?;
    let triage = store.message_triage(id).await?.map(TriageBody::from);
    let edited = store.edit_history(id).await?.map(EditedBody::from);
    Ok(axum::Json(MessageView { message: msg, triage, edited }))
}
