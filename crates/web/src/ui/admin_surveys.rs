//! Admin page of the satisfaction surveys per channel (issue 10's settings, issue 6's admin):
//! CSAT and/or NPS after resolution, the delay, and how often one contact may be asked. The same
//! store and checks as `PUT /api/v1/channels/{slug}/survey`; admins only; audited.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use switchboard_domain::{ChannelSlug, Role};
use switchboard_store::NewAuditEntry;
use switchboard_store::quality::SurveySettings;

use super::admin::{Section, sections};
use super::form::{AdminForm, has_csrf};
use super::session::UiUser;
use super::{Chrome, audit, page_error, page_error_text, render, store_error};
use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/admin/surveys", get(page)).route("/admin/surveys/{slug}", post(save))
}

pub(crate) struct Row {
    slug: String,
    name: String,
    kind: &'static str,
    s: SurveySettings,
}

#[derive(Template)]
#[template(path = "admin_surveys.html")]
struct SurveysPage {
    c: Chrome,
    sections: Vec<Section>,
    channels: Vec<Row>,
    saved: bool,
}

#[derive(Deserialize)]
struct PageQuery {
    saved: Option<String>,
}

/// `GET /admin/surveys`: every channel with its survey settings (none saved: no surveys).
async fn page(State(st): State<AppState>, me: UiUser, Query(q): Query<PageQuery>) -> Response {
    if let Err(r) = me.require(Role::Admin) {
        return r;
    }
    let store = st.engine.store();
    let (list, settings) = match tokio::try_join!(store.list_channels(), store.survey_settings()) {
        Ok(v) => v,
        Err(e) => return store_error(&me.tr, e),
    };
    let channels = list
        .into_iter()
        .map(|ch| {
            let slug = ch.slug.as_str().to_owned();
            let s = settings.iter().find(|s| s.channel == slug).cloned().unwrap_or(SurveySettings {
                channel: slug.clone(),
                csat: false,
                nps: false,
                delay_minutes: 0,
                min_days_between: 30,
            });
            Row { slug, name: ch.name, kind: ch.kind.as_str(), s }
        })
        .collect();
    render(&SurveysPage {
        c: me.chrome("admin"),
        sections: sections(&me, "surveys"),
        channels,
        saved: q.saved.is_some(),
    })
}

#[derive(Deserialize)]
struct SurveyForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    csat: Option<String>,
    nps: Option<String>,
    delay_minutes: String,
    min_days_between: String,
}

has_csrf!(SurveyForm);

/// `POST /admin/surveys/{slug}`: saves a channel's settings; refused values change nothing.
async fn save(
    State(st): State<AppState>,
    me: UiUser,
    Path(slug): Path<String>,
    AdminForm(f): AdminForm<SurveyForm>,
) -> Response {
    let Ok(slug) = ChannelSlug::parse(&slug) else {
        return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found");
    };
    let store = st.engine.store();
    match store.get_channel(&slug).await {
        Ok(Some(_)) => {}
        Ok(None) => return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return store_error(&me.tr, e),
    }
    let number =
        |name: &str, v: &str| v.trim().parse::<i32>().map_err(|_| format!("{name}: {v:?} is not a whole number"));
    let s = match (number("delay_minutes", &f.delay_minutes), number("min_days_between", &f.min_days_between)) {
        (Ok(delay_minutes), Ok(min_days_between)) => SurveySettings {
            channel: slug.as_str().to_owned(),
            csat: f.csat.is_some(),
            nps: f.nps.is_some(),
            delay_minutes,
            min_days_between,
        },
        (Err(m), _) | (_, Err(m)) => return page_error_text(&me.tr, StatusCode::UNPROCESSABLE_ENTITY, m),
    };
    if let Err(m) = s.validate() {
        return page_error_text(&me.tr, StatusCode::UNPROCESSABLE_ENTITY, m);
    }
    let before = match store.survey_settings().await {
        Ok(all) => all.into_iter().find(|x| x.channel == s.channel),
        Err(e) => return store_error(&me.tr, e),
    };
    if let Err(e) = store.put_survey_settings(&s).await {
        return store_error(&me.tr, e);
    }
    let entry = NewAuditEntry {
        actor_id: Some(me.user.id),
        action: "survey.settings".into(),
        target: s.channel.clone(),
        before: before.and_then(|b| serde_json::to_value(b).ok()),
        after: serde_json::to_value(&s).ok(),
        at: Utc::now(),
    };
    audit(&st, entry).await;
    Redirect::to("/admin/surveys?saved=1").into_response()
}
