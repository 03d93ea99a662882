//! The knowledge base in the agent UI: suggested articles beside the composer (with "insert
//! link") and the admin page of the FAQ bot's per-channel settings and outcome counts.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_domain::{CaseNumber, ChannelSlug, Role};
use switchboard_kb::bot::BotSettings;
use switchboard_store::NewAuditEntry;

use super::admin::{Section, sections};
use super::form::{AdminForm, has_csrf};
use super::session::UiUser;
use super::{Chrome, audit, page_error_text, render, store_error};
use crate::AppState;

const JS: &str = include_str!("../../assets/kb-composer.js");

pub(crate) fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/ui/kb/composer.js", get(js))
        .route("/ui/kb/suggest", get(suggest))
        .route("/admin/bot", get(page))
        .route("/admin/bot/{slug}", post(save))
}

async fn js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")], JS)
        .into_response()
}

#[derive(Deserialize)]
struct SuggestParams {
    case: String,
    /// The agent's own search (in the customer's language); else the latest message is used.
    #[serde(default)]
    q: Option<String>,
}

/// `GET /ui/kb/suggest?case=SB-…[&q=…]`: the best articles for the customer's latest message,
/// or for the agent's search.
async fn suggest(State(st): State<AppState>, _me: UiUser, Query(p): Query<SuggestParams>) -> Response {
    let run = async {
        let case =
            CaseNumber::parse(&p.case).map_err(|e| crate::AppError::bad_request("invalid_case", e.to_string()))?;
        let conv = st
            .engine
            .store()
            .get_conversation_by_case(case)
            .await?
            .ok_or_else(|| crate::AppError::not_found("conversation"))?;
        let kb = crate::api::kb::kb(&st)?;
        let q = p.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if q.is_some_and(|q| q.len() > 2000) {
            return Err(crate::AppError::bad_request("query_too_long", "q: at most 2,000 bytes"));
        }
        crate::api::kb::suggest(&st, &kb, conv.id, q).await
    };
    match run.await {
        Ok(body) => axum::Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

pub(crate) struct ChannelBot {
    slug: String,
    name: String,
    kind: &'static str,
    s: BotSettings,
    priorities: String,
    phrases: String,
}

#[derive(Template)]
#[template(path = "admin_bot.html")]
struct BotPage {
    c: Chrome,
    sections: Vec<Section>,
    channels: Vec<ChannelBot>,
    outcomes: String,
    saved: bool,
}

#[derive(Deserialize)]
struct PageQuery {
    saved: Option<String>,
}

/// `GET /admin/bot`.
async fn page(State(st): State<AppState>, me: UiUser, Query(q): Query<PageQuery>) -> Response {
    if let Err(r) = me.require(Role::Admin) {
        return r;
    }
    let store = st.engine.store();
    let list = match store.list_channels().await {
        Ok(l) => l,
        Err(e) => return store_error(&me.tr, e),
    };
    let mut channels = Vec::with_capacity(list.len());
    for ch in list {
        let s = match store.bot_settings(ch.slug.as_str()).await {
            Ok(v) => v.and_then(|v| BotSettings::from_json(&v).ok()).unwrap_or_default(),
            Err(e) => return store_error(&me.tr, e),
        };
        channels.push(ChannelBot {
            slug: ch.slug.as_str().to_owned(),
            name: ch.name.clone(),
            kind: ch.kind.as_str(),
            priorities: s.handoff_priorities.join(", "),
            phrases: s.handoff_phrases.join("\n"),
            s,
        });
    }
    let counts = match store.bot_outcome_counts(chrono::Utc::now() - chrono::Duration::days(30)).await {
        Ok(c) => c,
        Err(e) => return store_error(&me.tr, e),
    };
    let mut args = fluent_bundle::FluentArgs::new();
    args.set("answered", counts.answered);
    args.set("helped", counts.helped);
    args.set("not_helped", counts.not_helped);
    args.set("handed_off", counts.handed_off);
    let outcomes = st.ui.catalogue.get(me.tr.locale, "kb-admin-outcomes", Some(&args));
    render(&BotPage {
        c: me.chrome("admin"),
        sections: sections(&me, "bot"),
        channels,
        outcomes,
        saved: q.saved.is_some(),
    })
}

#[derive(Deserialize)]
struct BotForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    enabled: Option<String>,
    answer_public: Option<String>,
    min_confidence: String,
    negative_sentiment: String,
    handoff_priorities: String,
    default_locale: String,
    #[serde(default)]
    handoff_phrases: String,
}

has_csrf!(BotForm);

/// `POST /admin/bot/{slug}`: saves a channel's settings; bad values change nothing.
async fn save(
    State(st): State<AppState>,
    me: UiUser,
    Path(slug): Path<String>,
    AdminForm(f): AdminForm<BotForm>,
) -> Response {
    let bad = |m: String| page_error_text(&me.tr, StatusCode::UNPROCESSABLE_ENTITY, m);
    let Ok(slug) = ChannelSlug::parse(&slug) else { return bad(format!("no channel {slug}")) };
    let num = |name: &str, v: &str| v.trim().parse::<f32>().map_err(|_| format!("{name}: {v:?} is not a number"));
    let settings = (|| -> Result<BotSettings, String> {
        let s = BotSettings {
            enabled: f.enabled.is_some(),
            answer_public: f.answer_public.is_some(),
            min_confidence: num("min_confidence", &f.min_confidence)?,
            negative_sentiment: num("negative_sentiment", &f.negative_sentiment)?,
            handoff_priorities: f
                .handoff_priorities
                .split(',')
                .map(|p| p.trim().to_uppercase())
                .filter(|p| !p.is_empty())
                .collect(),
            default_locale: f.default_locale.trim().to_owned(),
            handoff_phrases: f
                .handoff_phrases
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
        };
        BotSettings::from_json(&serde_json::to_value(&s).map_err(|e| e.to_string())?)
    })();
    let settings = match settings {
        Ok(s) => s,
        Err(m) => return bad(m),
    };
    let store = st.engine.store();
    match store.get_channel(&slug).await {
        Ok(Some(_)) => {}
        Ok(None) => return bad(format!("no channel {}", slug.as_str())),
        Err(e) => return store_error(&me.tr, e),
    }
    let before = store.bot_settings(slug.as_str()).await.ok().flatten();
    let after = serde_json::to_value(&settings).unwrap_or_default();
    if let Err(e) = store.save_bot_settings(slug.as_str(), &after).await {
        return store_error(&me.tr, e);
    }
    audit(
        &st,
        NewAuditEntry {
            actor_id: Some(me.user.id),
            action: "bot.settings".into(),
            target: slug.as_str().to_owned(),
            before,
            after: Some(after),
            at: chrono::Utc::now(),
        },
    )
    .await;
    Redirect::to("/admin/bot?saved=1").into_response()
}
