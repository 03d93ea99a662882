//! Triage in the conversation view: each customer message shows its language, sentiment,
//! intent, suggested priority with the reasons, and the kinds of personal data found; an agent
//! corrects the intent in place, which stores a training example for the retraining job
//! (docs/nlp.md).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_domain::{CaseNumber, MessageId};
use switchboard_store::MessageTriage;

use super::form::{CheckedForm, has_csrf};
use super::i18n::Tr;
use super::session::UiUser;
use super::{page_error, store_error};
use crate::AppState;
use crate::api::triage::{LabelError, label_intent};

/// One intent in the correction menu.
pub(crate) struct IntentChoice {
    pub value: &'static str,
    pub label: String,
    pub selected: bool,
}

/// What the triage step found in one customer message, ready to show.
pub(crate) struct TriageView {
    /// Language name in the agent's language (the code when unknown).
    pub language: String,
    /// `negative`, `neutral`, `positive`.
    pub sentiment: String,
    pub sentiment_label: String,
    /// −1.00 … 1.00.
    pub score: String,
    /// 0 … 100 %.
    pub intent_confidence: String,
    pub intent_by_agent: bool,
    /// `P1` … `P4`.
    pub priority: String,
    pub reasons: String,
    /// Kinds of personal data, translated; empty when none.
    pub pii: String,
    pub intents: Vec<IntentChoice>,
}

/// The view of `t` in the agent's language.
pub(crate) fn view(tr: &Tr, t: &MessageTriage) -> TriageView {
    let language = if t.language == "unknown" || t.language.is_empty() {
        tr.t("triage-language-unknown")
    } else {
        let key = format!("lang-{}", t.language);
        let name = tr.t(&key);
        if name == key { t.language.clone() } else { name }
    };
    TriageView {
        language,
        sentiment: t.sentiment.clone(),
        sentiment_label: tr.t(&format!("sentiment-{}", t.sentiment)),
        score: format!("{:+.2}", t.sentiment_score),
        intent_confidence: format!("{:.0}", 100.0 * t.intent_confidence.clamp(0.0, 1.0)),
        intent_by_agent: t.intent_by_agent,
        priority: t.priority.clone(),
        reasons: t.priority_reasons.join(", "),
        pii: t.pii.iter().map(|k| tr.t(&format!("pii-{k}"))).collect::<Vec<_>>().join(", "),
        intents: switchboard_nlp::intent::INTENTS
            .iter()
            .map(|i| IntentChoice { value: i, label: tr.t(&format!("intent-{i}")), selected: *i == t.intent })
            .collect(),
    }
}

#[derive(Deserialize)]
pub(crate) struct IntentForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    message_id: String,
    intent: String,
}

has_csrf!(IntentForm);

/// `POST /c/{case}/intent`: an agent sets or corrects a customer message's intent.
pub(crate) async fn set_intent(
    State(st): State<AppState>,
    me: UiUser,
    Path(case): Path<String>,
    CheckedForm(f): CheckedForm<IntentForm>,
) -> Response {
    let tr = &me.tr;
    let Ok(case_number) = CaseNumber::parse(&case) else {
        return page_error(tr, StatusCode::NOT_FOUND, "error-not-found");
    };
    let conv = match st.engine.store().get_conversation_by_case(case_number).await {
        Ok(Some(c)) => c,
        Ok(None) => return page_error(tr, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return store_error(tr, e),
    };
    let Ok(id) = f.message_id.parse::<MessageId>() else {
        return page_error(tr, StatusCode::BAD_REQUEST, "error-bad-form");
    };
    match label_intent(st.engine.store(), id, f.intent, me.user.id, Some(conv.id)).await {
        Ok(()) => {}
        Err(LabelError::Store(e)) => return store_error(tr, e),
        Err(LabelError::UnknownIntent | LabelError::NotInbound) => {
            return page_error(tr, StatusCode::UNPROCESSABLE_ENTITY, "error-bad-intent");
        }
    }
    tracing::info!(case = %case_number, message = %id, user = %me.user.id, "intent labelled in the UI");
    Redirect::to(&format!("/c/{case_number}#m-{id}")).into_response()
}
