//! The public help center (`/help/{locale}/…`): server-rendered, no script, indexable (canonical
//! links, hreflang alternates, `/help/sitemap.xml`), with "was this helpful" votes (one per
//! visitor and article variant, rate-limited per address); and the customer's case-status page
//! (`/case/{number}?exp=…&sig=…`, an HMAC-signed link that expires) showing the status and the
//! conversation's customer-visible messages only: no notes, no internal fields.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sha2::Digest;
use switchboard_domain::{CaseNumber, Direction};
use switchboard_engine::kb::KbService;
use switchboard_store::kb::{Article, ArticleStatus, BOT_USER};

use super::i18n::{Locale, Tr};
use super::{page_error, render, store_error};
use crate::AppState;

const CSS: &str = include_str!("../../assets/help.css");

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/help", get(root))
        .route("/help/", get(root))
        .route("/help/assets/help.css", get(css))
        .route("/help/sitemap.xml", get(sitemap))
        .route("/help/{locale}", get(home_redirect))
        .route("/help/{locale}/", get(home))
        .route("/help/{locale}/search", get(search))
        .route("/help/{locale}/categories/{category}", get(category))
        .route("/help/{locale}/articles/{slug}", get(article))
        .route("/help/{locale}/articles/{slug}/vote", post(vote))
        .route("/case/{case}", get(case_status))
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], CSS)
        .into_response()
}

/// Public pages may be cached briefly by browsers and proxies.
fn public(mut resp: Response) -> Response {
    if resp.status().is_success() {
        resp.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("public, max-age=60"));
    }
    resp
}

fn tr(st: &AppState, locale: Locale) -> Tr {
    Tr::new(st.ui.catalogue.clone(), locale, chrono_tz::UTC)
}

fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())
}

async fn root(headers: HeaderMap) -> Redirect {
    let l = Locale::negotiate(None, accept_language(&headers));
    Redirect::to(&format!("/help/{}/", l.tag()))
}

async fn home_redirect(Path(locale): Path<String>) -> Redirect {
    let l = Locale::from_tag(&locale).unwrap_or(Locale::En);
    Redirect::permanent(&format!("/help/{}/", l.tag()))
}

/// The locale of a help-center path: a supported tag, exactly as the canonical URL spells it.
fn locale_of(st: &AppState, tag: &str) -> Result<Locale, Response> {
    match Locale::from_tag(tag) {
        Some(l) if l.tag() == tag => Ok(l),
        _ => Err(page_error(&tr(st, Locale::En), StatusCode::NOT_FOUND, "error-not-found")),
    }
}

fn kb(st: &AppState, tr: &Tr) -> Result<Arc<KbService>, Response> {
    st.engine.kb().ok_or_else(|| page_error(tr, StatusCode::SERVICE_UNAVAILABLE, "error-unavailable"))
}

/// What the layout needs.
pub(crate) struct Head {
    locale: &'static str,
    canonical: String,
    /// (hreflang, URL) of this page in other languages (and itself).
    alternates: Vec<(String, String)>,
    /// (tag, URL, native name) of the language switcher.
    languages: Vec<(String, String, String)>,
    query: String,
}

fn head(kb: &KbService, locale: Locale, path_after_locale: &str, available: &[Locale], query: &str) -> Head {
    let base = kb.config().public_url.trim_end_matches('/').to_owned();
    let url = |l: Locale| format!("{base}/help/{}/{path_after_locale}", l.tag());
    Head {
        locale: locale.tag(),
        canonical: url(locale),
        alternates: available.iter().map(|l| (l.tag().to_owned(), url(*l))).collect(),
        languages: available
            .iter()
            .filter(|l| **l != locale)
            .map(|l| (l.tag().to_owned(), format!("/help/{}/{path_after_locale}", l.tag()), l.native_name().to_owned()))
            .collect(),
        query: query.to_owned(),
    }
}

/// A published variant in `locale`.
fn published(a: &Article, locale: Locale) -> Option<&switchboard_store::kb::Translation> {
    a.translation(locale.tag()).filter(|t| t.status == ArticleStatus::Published)
}

pub(crate) fn category_name(tr: &Tr, category: &str) -> String {
    let key = format!("help-category-{category}");
    let name = tr.t(&key);
    if name == key { category.to_owned() } else { name }
}

/// A link in a list.
pub(crate) struct Item {
    slug: String,
    title: String,
    summary: String,
}

pub(crate) struct Category {
    slug: String,
    name: String,
    articles: Vec<Item>,
}

#[derive(Template)]
#[template(path = "help_home.html")]
struct HomePage {
    tr: Tr,
    head: Head,
    categories: Vec<Category>,
}

#[derive(Template)]
#[template(path = "help_list.html")]
struct ListPage {
    tr: Tr,
    head: Head,
    heading: String,
    items: Vec<Item>,
}

#[derive(Template)]
#[template(path = "help_article.html")]
struct ArticlePage {
    tr: Tr,
    head: Head,
    slug: String,
    title: String,
    summary: String,
    category: String,
    category_name: String,
    updated: String,
    body_html: String,
    vote_message: String,
}

async fn home(State(st): State<AppState>, Path(locale): Path<String>) -> Response {
    let locale = match locale_of(&st, &locale) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let tr = tr(&st, locale);
    let kb = match kb(&st, &tr) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let articles = match st.engine.store().list_articles().await {
        Ok(a) => a,
        Err(e) => return store_error(&tr, e),
    };
    let mut by_cat: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    for a in &articles {
        if let Some(t) = published(a, locale) {
            by_cat.entry(a.category.clone()).or_default().push(Item {
                slug: a.slug.clone(),
                title: t.title.clone(),
                summary: String::new(),
            });
        }
    }
    let categories = by_cat
        .into_iter()
        .map(|(slug, articles)| Category { name: category_name(&tr, &slug), slug, articles })
        .collect();
    public(render(&HomePage { head: head(&kb, locale, "", &Locale::ALL, ""), tr, categories }))
}

async fn category(State(st): State<AppState>, Path((locale, cat)): Path<(String, String)>) -> Response {
    let locale = match locale_of(&st, &locale) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let tr = tr(&st, locale);
    let kb = match kb(&st, &tr) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let articles = match st.engine.store().list_articles().await {
        Ok(a) => a,
        Err(e) => return store_error(&tr, e),
    };
    let items: Vec<Item> = articles
        .iter()
        .filter(|a| a.category == cat)
        .filter_map(|a| {
            published(a, locale).map(|t| Item {
                slug: a.slug.clone(),
                title: t.title.clone(),
                summary: switchboard_kb::render::summary(&switchboard_kb::render::plain_text(&t.body), 160),
            })
        })
        .collect();
    if items.is_empty() {
        return page_error(&tr, StatusCode::NOT_FOUND, "error-not-found");
    }
    let path = format!("categories/{cat}");
    let heading = category_name(&tr, &cat);
    public(render(&ListPage { head: head(&kb, locale, &path, &Locale::ALL, ""), tr, heading, items }))
}

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

async fn search(State(st): State<AppState>, Path(locale): Path<String>, Query(p): Query<SearchQuery>) -> Response {
    let locale = match locale_of(&st, &locale) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let tr = tr(&st, locale);
    let kb = match kb(&st, &tr) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let q: String = p.q.unwrap_or_default().chars().take(200).collect();
    let items = if q.trim().is_empty() {
        Vec::new()
    } else {
        match kb.search(&q, locale.tag(), 10).await {
            Ok(r) => r.hits.into_iter().map(|h| Item { slug: h.slug, title: h.title, summary: h.summary }).collect(),
            Err(e) => return store_error(&tr, e),
        }
    };
    let heading = tr.t1("help-results-for", "query", &q);
    let mut resp = render(&ListPage { head: head(&kb, locale, "search", &[locale], &q), tr, heading, items });
    // Result pages are not for search engines.
    resp.headers_mut().insert("x-robots-tag", header::HeaderValue::from_static("noindex"));
    resp
}

async fn article_page(st: &AppState, locale: Locale, slug: &str, vote_message: Option<String>) -> Response {
    let tr = tr(st, locale);
    let kb = match kb(st, &tr) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let a = match st.engine.store().article_by_slug(slug).await {
        Ok(Some(a)) => a,
        Ok(None) => return page_error(&tr, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return store_error(&tr, e),
    };
    let Some(t) = published(&a, locale) else { return page_error(&tr, StatusCode::NOT_FOUND, "error-not-found") };
    let available: Vec<Locale> = Locale::ALL.iter().copied().filter(|l| published(&a, *l).is_some()).collect();
    let body_md = t.body.clone();
    let body_html =
        tokio::task::spawn_blocking(move || switchboard_kb::render::to_html(&body_md)).await.unwrap_or_default();
    let page = ArticlePage {
        head: head(&kb, locale, &format!("articles/{slug}"), &available, ""),
        slug: a.slug.clone(),
        title: t.title.clone(),
        summary: switchboard_kb::render::summary(&switchboard_kb::render::plain_text(&t.body), 160),
        category_name: category_name(&tr, &a.category),
        category: a.category.clone(),
        updated: tr.t1("help-updated", "date", &t.updated_at.format("%Y-%m-%d").to_string()),
        body_html,
        vote_message: vote_message.unwrap_or_default(),
        tr,
    };
    render(&page)
}

async fn article(State(st): State<AppState>, Path((locale, slug)): Path<(String, String)>) -> Response {
    match locale_of(&st, &locale) {
        Ok(l) => public(article_page(&st, l, &slug, None).await),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct VoteForm {
    helpful: String,
}

/// One vote per visitor (address and browser) and article variant; at most a few per address
/// and minute.
async fn vote(
    State(st): State<AppState>,
    Path((locale, slug)): Path<(String, String)>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    form: Result<Form<VoteForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let locale = match locale_of(&st, &locale) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let tr = tr(&st, locale);
    let helpful = match form.as_ref().map(|f| f.helpful.as_str()) {
        Ok("yes") => true,
        Ok("no") => false,
        _ => return super::page_error_text(&tr, StatusCode::BAD_REQUEST, tr.t("help-vote-invalid")),
    };
    let kb = match kb(&st, &tr) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let ip = ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_else(|| "local".into());
    if !kb.allow_vote(&ip) {
        let mut r = article_page(&st, locale, &slug, Some(tr.t("help-vote-limit"))).await;
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return r;
    }
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let voter = hex::encode(&sha2::Sha256::digest(format!("{ip}\n{ua}").as_bytes())[..16]);
    let a = match st.engine.store().article_by_slug(&slug).await {
        Ok(Some(a)) if published(&a, locale).is_some() => a,
        Ok(_) => return page_error(&tr, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return store_error(&tr, e),
    };
    let msg = match st.engine.store().record_kb_vote(a.id, locale.tag(), &voter, helpful).await {
        Ok(true) => tr.t("help-vote-thanks"),
        Ok(false) => tr.t("help-vote-already"),
        Err(e) => return store_error(&tr, e),
    };
    article_page(&st, locale, &slug, Some(msg)).await
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn sitemap(State(st): State<AppState>) -> Response {
    let Some(kb) = st.engine.kb() else { return StatusCode::SERVICE_UNAVAILABLE.into_response() };
    let articles = match st.engine.store().list_articles().await {
        Ok(a) => a,
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let base = xml_escape(kb.config().public_url.trim_end_matches('/'));
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\" xmlns:xhtml=\"http://www.w3.org/1999/xhtml\">\n",
    );
    for l in Locale::ALL {
        xml.push_str(&format!("<url><loc>{base}/help/{}/</loc></url>\n", l.tag()));
    }
    for a in &articles {
        let locales: Vec<Locale> = Locale::ALL.iter().copied().filter(|l| published(a, *l).is_some()).collect();
        for l in &locales {
            let lastmod = published(a, *l).map(|t| t.updated_at.format("%Y-%m-%d").to_string()).unwrap_or_default();
            xml.push_str(&format!(
                "<url><loc>{base}/help/{}/articles/{}</loc><lastmod>{lastmod}</lastmod>",
                l.tag(),
                a.slug
            ));
            for alt in &locales {
                xml.push_str(&format!(
                    "<xhtml:link rel=\"alternate\" hreflang=\"{}\" href=\"{base}/help/{}/articles/{}\"/>",
                    alt.tag(),
                    alt.tag(),
                    a.slug
                ));
            }
            xml.push_str("</url>\n");
        }
    }
    xml.push_str("</urlset>\n");
    ([(header::CONTENT_TYPE, "application/xml; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")], xml)
        .into_response()
}

#[derive(Deserialize)]
struct CaseQuery {
    exp: Option<i64>,
    sig: Option<String>,
}

pub(crate) struct CaseMessage {
    who: &'static str,
    label: String,
    when: String,
    text: String,
}

#[derive(Template)]
#[template(path = "case_status.html")]
struct CasePage {
    tr: Tr,
    case_label: String,
    status: String,
    messages: Vec<CaseMessage>,
}

/// The customer's case-status page; a wrong, expired or missing signature is a 403.
async fn case_status(
    State(st): State<AppState>,
    Path(case): Path<String>,
    Query(q): Query<CaseQuery>,
    headers: HeaderMap,
) -> Response {
    let locale = Locale::negotiate(None, accept_language(&headers));
    let tr = tr(&st, locale);
    let kb = match kb(&st, &tr) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let number = case.trim().trim_start_matches("SB-").parse::<i64>().ok();
    let ok = match (number, q.exp, q.sig.as_deref()) {
        (Some(n), Some(exp), Some(sig)) => kb.verify_case_link(n, exp, sig, chrono::Utc::now()),
        _ => false,
    };
    let Some(number) = number.filter(|_| ok) else { return page_error(&tr, StatusCode::FORBIDDEN, "case-invalid") };
    let store = st.engine.store();
    let conv = match store.get_conversation_by_case(CaseNumber(number)).await {
        Ok(Some(c)) => c,
        Ok(None) => return page_error(&tr, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return store_error(&tr, e),
    };
    let msgs = match store.list_messages(conv.id).await {
        Ok(m) => m,
        Err(e) => return store_error(&tr, e),
    };
    let messages = msgs
        .into_iter()
        // Notes are internal. A reply whose delivery failed still shows: this page is another
        // way for the customer to read it.
        .filter(|m| m.direction != Direction::Note)
        .map(|m| {
            let (who, key) = match m.direction {
                Direction::Inbound => ("you", "case-you"),
                _ if m.author_id == Some(BOT_USER) => ("us", "case-bot"),
                _ => ("us", "case-us"),
            };
            CaseMessage { who, label: tr.t(key), when: tr.datetime(&m.sent_at), text: m.text }
        })
        .collect();
    let mut resp = render(&CasePage {
        case_label: conv.case_number.to_string(),
        status: tr.t(&format!("status-{}", conv.status.as_str())),
        messages,
        tr,
    });
    resp.headers_mut().insert("x-robots-tag", header::HeaderValue::from_static("noindex"));
    resp
}
