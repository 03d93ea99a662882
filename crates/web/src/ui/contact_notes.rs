//! Contact notes in the conversation's side panel: any agent adds one; its author (or a
//! supervisor or admin) edits it; each shows its author and time. Edits are audited.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use switchboard_domain::{CaseNumber, ContactId, Conversation, Role};
use switchboard_store::NewAuditEntry;
use uuid::Uuid;

use super::form::{CheckedForm, has_csrf};
use super::i18n::Tr;
use super::session::UiUser;
use super::{audit, page_error, store_error};
use crate::AppState;

pub(crate) struct NoteView {
    id: String,
    author: String,
    time: String,
    edited: Option<String>,
    body: String,
    editable: bool,
}

/// The notes part of the contact panel.
#[derive(Template)]
#[template(path = "contact_notes.html")]
pub(crate) struct NotesPanel {
    tr: Tr,
    csrf: String,
    case: String,
    notes: Vec<NoteView>,
}

fn may_edit(me: &UiUser, author: switchboard_domain::UserId) -> bool {
    author == me.user.id || me.user.role.at_least(Role::Supervisor)
}

/// The panel for `contact`, shown on conversation `case`.
pub(crate) async fn panel(st: &AppState, me: &UiUser, contact: ContactId, case: &str) -> Result<NotesPanel, Response> {
    let notes = st.engine.store().list_contact_notes(contact).await.map_err(|e| store_error(&me.tr, e))?;
    Ok(NotesPanel {
        tr: me.tr.clone(),
        csrf: me.session.csrf_token.clone(),
        case: case.to_owned(),
        notes: notes
            .into_iter()
            .map(|n| NoteView {
                id: n.id.to_string(),
                author: if n.author_name.is_empty() { me.tr.t("author-system") } else { n.author_name.clone() },
                time: me.tr.datetime(&n.created_at),
                edited: (n.updated_at != n.created_at).then(|| me.tr.datetime(&n.updated_at)),
                editable: may_edit(me, n.author_id),
                body: n.body,
            })
            .collect(),
    })
}

#[derive(Deserialize)]
pub(crate) struct NoteForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    body: String,
}

has_csrf!(NoteForm);

async fn conversation(st: &AppState, me: &UiUser, case: &str) -> Result<Conversation, Response> {
    let Ok(number) = CaseNumber::parse(case) else {
        return Err(page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found"));
    };
    match st.engine.store().get_conversation_by_case(number).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found")),
        Err(e) => Err(store_error(&me.tr, e)),
    }
}

fn back(case: &str) -> Response {
    Redirect::to(&format!("/c/{case}#notes")).into_response()
}

/// `POST /c/{case}/notes`: adds a note on the conversation's contact.
pub(crate) async fn add(
    State(st): State<AppState>,
    me: UiUser,
    Path(case): Path<String>,
    CheckedForm(f): CheckedForm<NoteForm>,
) -> Response {
    let conv = match conversation(&st, &me, &case).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match st.engine.store().add_contact_note(conv.contact_id, me.user.id, f.body.trim(), Utc::now()).await {
        Ok(n) => {
            tracing::info!(contact = %conv.contact_id, note = %n.id, user = %me.user.id, "contact note added");
            back(&case)
        }
        Err(e) => store_error(&me.tr, e),
    }
}

/// `POST /c/{case}/notes/{id}`: edits a note (its author, or a supervisor or admin).
pub(crate) async fn edit(
    State(st): State<AppState>,
    me: UiUser,
    Path((case, id)): Path<(String, String)>,
    CheckedForm(f): CheckedForm<NoteForm>,
) -> Response {
    let conv = match conversation(&st, &me, &case).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let store = st.engine.store();
    let not_found = || page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found");
    let Ok(id) = id.parse::<Uuid>() else { return not_found() };
    let before = match store.get_contact_note(id).await {
        // A note is reached only through a conversation of its own contact.
        Ok(Some(n)) if n.contact_id == conv.contact_id => n,
        Ok(_) => return not_found(),
        Err(e) => return store_error(&me.tr, e),
    };
    if !may_edit(&me, before.author_id) {
        return page_error(&me.tr, StatusCode::FORBIDDEN, "error-forbidden");
    }
    match store.update_contact_note(id, f.body.trim(), Utc::now()).await {
        Ok(after) => {
            audit(
                &st,
                NewAuditEntry {
                    actor_id: Some(me.user.id),
                    action: "contact.note.update".into(),
                    target: format!("{}/{id}", conv.contact_id),
                    before: serde_json::to_value(&before).ok(),
                    after: serde_json::to_value(&after).ok(),
                    at: Utc::now(),
                },
            )
            .await;
            back(&case)
        }
        Err(e) => store_error(&me.tr, e),
    }
}
