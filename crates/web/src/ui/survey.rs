//! The public web survey (`/survey/{id}?exp=…&sig=…`): the fallback for channels where neither
//! buttons nor a typed answer work. No sign-in; the HMAC-signed, expiring link is the
//! authorisation (key `survey_link` in `quality_secrets`). Answers go through the same store
//! call as button and typed answers: first answer wins, nothing is reopened.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use switchboard_engine::surveys::{LINK_SECRET, LinkError, verify_link};
use switchboard_store::quality::{Survey, SurveyState};

use super::i18n::Tr;
use super::session::anonymous_tr;
use super::{page_error, render, store_error};
use crate::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct LinkQuery {
    exp: i64,
    sig: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AnswerForm {
    exp: i64,
    sig: String,
    score: String,
    #[serde(default)]
    comment: String,
}

#[derive(Template)]
#[template(path = "survey.html")]
struct SurveyPage {
    tr: Tr,
    question: String,
    action: String,
    exp: i64,
    sig: String,
    scores: Vec<i32>,
    answered: Option<String>,
}

/// Checks the link and loads its survey, or the error page to show.
async fn checked(st: &AppState, tr: &Tr, id: &str, exp: i64, sig: &str) -> Result<Survey, Response> {
    let Ok(id) = uuid::Uuid::parse_str(id) else {
        return Err(page_error(tr, StatusCode::NOT_FOUND, "error-not-found"));
    };
    let store = st.engine.store();
    let secret = store.quality_secret(LINK_SECRET).await.map_err(|e| store_error(tr, e))?;
    match verify_link(&secret, id, exp, sig, Utc::now()) {
        Ok(()) => {}
        Err(LinkError::BadSignature) => return Err(page_error(tr, StatusCode::FORBIDDEN, "survey-link-invalid")),
        Err(LinkError::Expired) => return Err(page_error(tr, StatusCode::GONE, "survey-link-expired")),
    }
    store
        .get_survey(id)
        .await
        .map_err(|e| store_error(tr, e))?
        .ok_or_else(|| page_error(tr, StatusCode::NOT_FOUND, "error-not-found"))
}

fn page(tr: Tr, s: &Survey, exp: i64, sig: String) -> SurveyPage {
    let (lo, hi) = s.kind.range();
    SurveyPage {
        question: tr.t(&format!("survey-question-{}", s.kind.as_str())),
        action: format!("/survey/{}", s.id),
        exp,
        sig,
        scores: (lo..=hi).collect(),
        answered: (s.state == SurveyState::Answered).then(|| s.score.map(|n| format!("{n}/{hi}")).unwrap_or_default()),
        tr,
    }
}

/// `GET /survey/{id}`.
pub(crate) async fn show(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<LinkQuery>,
) -> Response {
    let tr = anonymous_tr(&st, &headers);
    match checked(&st, &tr, &id, q.exp, &q.sig).await {
        Ok(s) => render(&page(tr, &s, q.exp, q.sig)),
        Err(r) => r,
    }
}

/// `POST /survey/{id}`.
pub(crate) async fn answer(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<AnswerForm>,
) -> Response {
    let tr = anonymous_tr(&st, &headers);
    let s = match checked(&st, &tr, &id, f.exp, &f.sig).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(score) = f.score.trim().parse::<i32>().ok().filter(|n| s.kind.valid(*n)) else {
        return page_error(&tr, StatusCode::UNPROCESSABLE_ENTITY, "survey-score-invalid");
    };
    let comment: String = f.comment.chars().take(2000).collect();
    match st.engine.store().answer_survey(s.id, score, &comment, "web", None, Utc::now()).await {
        Ok(done) => render(&page(tr, &done, f.exp, f.sig)),
        Err(e) => store_error(&tr, e),
    }
}
