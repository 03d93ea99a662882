//! Knowledge base and FAQ bot over the API (issue 9, docs/kb-bot.md): search for agents, the bot
//! and the help center; article editing with version history and a sanitised preview; the
//! bot's per-channel settings, outcomes and the composer's suggested articles.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_domain::{ChannelSlug, ConversationId, Direction, Role};
use switchboard_engine::kb::KbService;
use switchboard_kb::bot::BotSettings;
use switchboard_store::kb::{Article, ArticleId, ArticleInput, ArticleVersion, BotOutcome, BotOutcomeCounts};
use utoipa::OpenApi;

use super::audit::{json, record};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};
use crate::extract::{Json, Query};

#[derive(OpenApi)]
#[openapi(
    paths(
        search,
        list_articles,
        save_article,
        get_article,
        delete_article,
        history,
        preview,
        get_bot,
        put_bot,
        outcomes,
        conversation_outcomes,
        suggestions
    ),
    components(schemas(
        SearchBody,
        HitBody,
        Article,
        ArticleInput,
        ArticleVersion,
        PreviewBody,
        BotOutcome,
        BotOutcomeCounts,
        switchboard_store::kb::Translation,
        switchboard_store::kb::TranslationInput,
        switchboard_store::kb::ArticleStatus,
        switchboard_store::kb::BotOutcomeKind,
        switchboard_store::kb::ArticleId
    ))
)]
pub(crate) struct KbApi;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/kb/search", get(search))
        .route("/kb/articles", get(list_articles).post(save_article))
        .route("/kb/articles/{id}", get(get_article).delete(delete_article))
        .route("/kb/articles/{id}/history", get(history))
        .route("/kb/preview", post(preview))
        .route("/channels/{slug}/bot", get(get_bot).put(put_bot))
        .route("/bot/outcomes", get(outcomes))
        .route("/conversations/{id}/bot-outcomes", get(conversation_outcomes))
        .route("/conversations/{id}/suggested-articles", get(suggestions))
}

/// The knowledge base service, or 503 when the server runs without it.
pub(crate) fn kb(st: &AppState) -> Result<Arc<KbService>, AppError> {
    st.engine.kb().ok_or_else(|| {
        AppError::new(StatusCode::SERVICE_UNAVAILABLE, "kb_unavailable", "the knowledge base is not running")
    })
}

/// Search parameters.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct SearchParams {
    /// The question or keywords.
    q: String,
    /// Locale of the variants to search (`en`, `zh-CN` …); default `en`.
    locale: Option<String>,
    /// At most this many hits (1–50, default 5).
    limit: Option<usize>,
}

/// One hit.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct HitBody {
    article_id: ArticleId,
    slug: String,
    locale: String,
    title: String,
    category: String,
    summary: String,
    score: f32,
    /// Public help-center link.
    url: String,
}

/// Search results, best first.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SearchBody {
    hits: Vec<HitBody>,
    /// How well the best hit covers the question (0–1); the bot answers above its channel's threshold.
    confidence: f32,
}

pub(crate) fn check_locale(l: &str) -> Result<(), AppError> {
    if switchboard_store::kb::valid_locale(l) {
        Ok(())
    } else {
        Err(AppError::bad_request("invalid_locale", format!("locale {l:?}: use a tag such as en or zh-CN")))
    }
}

/// Full-text search of published articles (English stemming, Chinese word segmentation, typo tolerance).
#[utoipa::path(get, path = "/api/v1/kb/search", tag = "kb", params(SearchParams),
    responses((status = 200, body = SearchBody), (status = 400, body = crate::error::ErrorBody)))]
pub(crate) async fn search(
    State(st): State<AppState>,
    _caller: Caller,
    Query(p): Query<SearchParams>,
) -> ApiResult<impl IntoResponse> {
    let locale = p.locale.unwrap_or_else(|| "en".into());
    check_locale(&locale)?;
    if p.q.len() > 2000 {
        return Err(AppError::bad_request("query_too_long", "q: at most 2,000 bytes"));
    }
    let limit = p.limit.unwrap_or(5);
    if !(1..=50).contains(&limit) {
        return Err(AppError::bad_request("invalid_limit", "limit must be between 1 and 50"));
    }
    let kb = kb(&st)?;
    Ok(axum::Json(search_body(&kb, &p.q, &locale, limit).await?))
}

pub(crate) async fn search_body(kb: &KbService, q: &str, locale: &str, limit: usize) -> ApiResult<SearchBody> {
    let r = kb.search(q, locale, limit).await?;
    Ok(SearchBody {
        confidence: r.confidence,
        hits: r
            .hits
            .into_iter()
            .map(|h| HitBody {
                url: kb.article_url(&h.slug, locale),
                article_id: h.article_id,
                slug: h.slug,
                locale: locale.to_owned(),
                title: h.title,
                category: h.category,
                summary: h.summary,
                score: h.score,
            })
            .collect(),
    })
}

/// Every article with all variants (drafts included).
#[utoipa::path(get, path = "/api/v1/kb/articles", tag = "kb", responses((status = 200, body = Vec<Article>)))]
pub(crate) async fn list_articles(State(st): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Agent)?;
    Ok(axum::Json(st.engine.store().list_articles().await?))
}

/// Creates or updates the article with this slug; each changed variant gets a new version and
/// the search index follows at once.
#[utoipa::path(post, path = "/api/v1/kb/articles", tag = "kb", request_body = ArticleInput,
    responses((status = 200, body = Article), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn save_article(
    State(st): State<AppState>,
    caller: Caller,
    Json(input): Json<ArticleInput>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Supervisor)?;
    let kb = kb(&st)?;
    let before = st.engine.store().article_by_slug(&input.slug).await?;
    let saved = kb.save(&input, Some(caller.user_id)).await?;
    let action = if before.is_some() { "kb_article.update" } else { "kb_article.create" };
    record(&st, &caller, action, &saved.slug, before.as_ref().and_then(json), json(&saved)).await;
    Ok(axum::Json(saved))
}

pub(crate) async fn find_article(st: &AppState, id: &str) -> ApiResult<Article> {
    let store = st.engine.store();
    let found = match uuid::Uuid::parse_str(id) {
        Ok(u) => store.get_article(ArticleId(u)).await?,
        Err(_) => store.article_by_slug(id).await?,
    };
    found.ok_or_else(|| AppError::not_found("article"))
}

/// One article by id or slug.
#[utoipa::path(get, path = "/api/v1/kb/articles/{id}", tag = "kb", params(("id" = String, Path, description = "id or slug")),
    responses((status = 200, body = Article), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn get_article(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Agent)?;
    Ok(axum::Json(find_article(&st, &id).await?))
}

/// Deletes an article, its history and votes.
#[utoipa::path(delete, path = "/api/v1/kb/articles/{id}", tag = "kb", params(("id" = String, Path, description = "id or slug")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn delete_article(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Supervisor)?;
    let a = find_article(&st, &id).await?;
    kb(&st)?.delete(a.id).await?;
    record(&st, &caller, "kb_article.delete", &a.slug, json(&a), None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Every stored version of the article's variants, newest first.
#[utoipa::path(get, path = "/api/v1/kb/articles/{id}/history", tag = "kb", params(("id" = String, Path, description = "id or slug")),
    responses((status = 200, body = Vec<ArticleVersion>), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn history(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Agent)?;
    let a = find_article(&st, &id).await?;
    Ok(axum::Json(st.engine.store().article_history(a.id).await?))
}

/// Markdown to preview.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub(crate) struct PreviewBody {
    /// Markdown in the request; sanitised HTML in the answer.
    markdown: Option<String>,
    html: Option<String>,
}

/// Renders Markdown as the help center shows it (sanitised HTML).
#[utoipa::path(post, path = "/api/v1/kb/preview", tag = "kb", request_body = PreviewBody, responses((status = 200, body = PreviewBody)))]
pub(crate) async fn preview(_caller: Caller, Json(body): Json<PreviewBody>) -> ApiResult<impl IntoResponse> {
    let md = body.markdown.ok_or_else(|| AppError::bad_request("invalid_payload", "markdown is required"))?;
    if md.len() > 200_000 {
        return Err(AppError::bad_request("payload_too_large", "markdown: at most 200,000 bytes"));
    }
    Ok(axum::Json(PreviewBody { markdown: None, html: Some(switchboard_kb::render::to_html(&md)) }))
}

fn slug(s: &str) -> Result<ChannelSlug, AppError> {
    ChannelSlug::parse(s).map_err(|e| AppError::bad_request("invalid_slug", e.to_string()))
}

/// A channel's bot settings (defaults when never saved: the bot is off).
#[utoipa::path(get, path = "/api/v1/channels/{slug}/bot", tag = "kb", params(("slug" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn get_bot(
    State(st): State<AppState>,
    caller: Caller,
    Path(s): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Agent)?;
    let slug = slug(&s)?;
    let store = st.engine.store();
    store.get_channel(&slug).await?.ok_or_else(|| AppError::not_found("channel"))?;
    let settings = match store.bot_settings(slug.as_str()).await? {
        Some(v) => BotSettings::from_json(&v).unwrap_or_default(),
        None => BotSettings::default(),
    };
    Ok(axum::Json(settings_json(&settings)))
}

pub(crate) fn settings_json(s: &BotSettings) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    v["builtin_handoff_phrases"] = serde_json::json!(switchboard_kb::bot::DEFAULT_HANDOFF_PHRASES);
    v
}

/// Saves a channel's bot settings: `enabled`, `min_confidence` (0–1), `answer_public`,
/// `handoff_phrases`, `negative_sentiment` (−1–0), `handoff_priorities`, `default_locale`.
#[utoipa::path(put, path = "/api/v1/channels/{slug}/bot", tag = "kb", params(("slug" = String, Path)), request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn put_bot(
    State(st): State<AppState>,
    caller: Caller,
    Path(s): Path<String>,
    Json(mut body): Json<Value>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let slug = slug(&s)?;
    if let Some(o) = body.as_object_mut() {
        // What GET shows for reference is not a setting.
        o.remove("builtin_handoff_phrases");
    }
    let settings = BotSettings::from_json(&body).map_err(|m| AppError::bad_request("invalid_settings", m))?;
    let store = st.engine.store();
    store.get_channel(&slug).await?.ok_or_else(|| AppError::not_found("channel"))?;
    let before = store.bot_settings(slug.as_str()).await?;
    let after = serde_json::to_value(&settings).unwrap_or_default();
    store.save_bot_settings(slug.as_str(), &after).await?;
    record(&st, &caller, "bot.settings", slug.as_str(), before, Some(after.clone())).await;
    Ok(axum::Json(settings_json(&settings)))
}

/// Outcome window.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct OutcomeParams {
    /// Count outcomes since this time (RFC 3339); default: the last 30 days.
    since: Option<chrono::DateTime<chrono::Utc>>,
}

/// Bot outcome counts (answered, helped, not helped, handed off) for deflection and handoff rates.
#[utoipa::path(get, path = "/api/v1/bot/outcomes", tag = "kb", params(OutcomeParams), responses((status = 200, body = BotOutcomeCounts)))]
pub(crate) async fn outcomes(
    State(st): State<AppState>,
    caller: Caller,
    Query(p): Query<OutcomeParams>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Agent)?;
    let since = p.since.unwrap_or_else(|| chrono::Utc::now() - chrono::Duration::days(30));
    Ok(axum::Json(st.engine.store().bot_outcome_counts(since).await?))
}

fn conversation_id(id: &str) -> Result<ConversationId, AppError> {
    id.parse::<ConversationId>().map_err(|_| AppError::bad_request("invalid_id", "not a conversation id"))
}

/// What the bot did in a conversation, oldest first.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/bot-outcomes", tag = "kb", params(("id" = String, Path)),
    responses((status = 200, body = Vec<BotOutcome>)))]
pub(crate) async fn conversation_outcomes(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Agent)?;
    Ok(axum::Json(st.engine.store().bot_outcomes(conversation_id(&id)?).await?))
}

/// Articles for the customer's latest message, in their language (for the composer).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/suggested-articles", tag = "kb", params(("id" = String, Path)),
    responses((status = 200, body = SearchBody), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn suggestions(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Agent)?;
    let id = conversation_id(&id)?;
    let kb = kb(&st)?;
    Ok(axum::Json(suggest(&st, &kb, id, None).await?))
}

/// Articles in the customer's language for a conversation: for `query` when the agent searches,
/// else for its latest inbound message.
pub(crate) async fn suggest(
    st: &AppState,
    kb: &KbService,
    id: ConversationId,
    query: Option<&str>,
) -> ApiResult<SearchBody> {
    let store = st.engine.store();
    store.get_conversation(id).await?.ok_or_else(|| AppError::not_found("conversation"))?;
    let msgs = store.list_messages(id).await?;
    let last = msgs.iter().rev().find(|m| m.direction == Direction::Inbound);
    let lang = match last {
        Some(m) => store.message_triage(m.id).await?.map(|t| t.language).unwrap_or_else(|| guess_language(&m.text)),
        None => query.map(guess_language).unwrap_or_else(|| "en".into()),
    };
    let mut locale = switchboard_kb::bot::locale_for(&lang, "en");
    if !kb.index().has_locale(&locale) {
        locale = "en".into();
    }
    match (query, last) {
        (Some(q), _) => search_body(kb, q, &locale, 5).await,
        (None, Some(m)) => search_body(kb, &m.text, &locale, 3).await,
        (None, None) => Ok(SearchBody { hits: Vec::new(), confidence: 0.0 }),
    }
}

/// Chinese when the text has Han characters, else English: enough to pick a locale before triage.
fn guess_language(text: &str) -> String {
    if text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) { "zh".into() } else { "en".into() }
}
