//! The knowledge-base editor in the admin UI (issue 9): the article list with search and
//! filters (category, status, missing translation), the editor of one locale variant (title,
//! Markdown body, draft/published) with the article's category, tags and linked intents, the
//! links between its translations, a preview rendered exactly as the help center renders it,
//! the version history (any version can be loaded back and saved again) and deletion.
//!
//! Admins only; every change is audited with before and after. Saves go through the knowledge
//! base service, so the search index, the help center and the bot follow at once. A save made
//! from a stale page (someone saved the same variant in between) is refused and the text kept.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use switchboard_domain::Role;
use switchboard_store::NewAuditEntry;
use switchboard_store::kb::{Article, ArticleId, ArticleInput, ArticleStatus, TranslationInput, valid_locale};

use super::admin::{Section, sections};
use super::admin_teams::Fields;
use super::form::AdminForm;
use super::inbox::Choice;
use super::session::{UiUser, urlencode};
use super::{Chrome, audit, page_error, render, store_error};
use crate::AppState;

const JS: &str = include_str!("../../assets/kb-editor.js");

/// The locales every article should have (the help center's languages).
const EXPECTED_LOCALES: &[&str] = &["en", "zh-CN"];
/// Articles per list page.
const PAGE_SIZE: usize = 50;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/kb", get(list))
        .route("/admin/kb/new", get(new_article))
        .route("/admin/kb/save", post(save))
        .route("/admin/kb/preview", post(preview))
        .route("/admin/kb/editor.js", get(js))
        .route("/admin/kb/{id}", get(edit))
        .route("/admin/kb/{id}/delete", post(delete))
        .route("/admin/kb/{id}/translations/{locale}/delete", post(delete_translation))
}

async fn js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")], JS)
        .into_response()
}

fn status_label(me: &UiUser, s: ArticleStatus) -> String {
    match s {
        ArticleStatus::Draft => me.tr.t("kbedit-status-draft"),
        ArticleStatus::Published => me.tr.t("kbedit-status-published"),
    }
}

/// The category's name in the user's language when the catalogue has one (as in the help center).
fn category_label(me: &UiUser, category: &str) -> String {
    super::help::category_name(&me.tr, category)
}

async fn find(st: &AppState, id: &str) -> Result<Option<Article>, switchboard_store::StoreError> {
    let store = st.engine.store();
    match uuid::Uuid::parse_str(id) {
        Ok(u) => store.get_article(ArticleId(u)).await,
        Err(_) => store.article_by_slug(id).await,
    }
}

// ---- list ----

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    status: String,
    /// Only articles without a variant in this locale.
    #[serde(default)]
    missing: String,
    #[serde(default)]
    page: Option<usize>,
    #[serde(default)]
    deleted: Option<String>,
}

pub(crate) struct VariantChip {
    locale: String,
    href: String,
    status: &'static str,
    label: String,
}

pub(crate) struct ArticleRow {
    id: String,
    slug: String,
    title: String,
    category: String,
    tags: String,
    variants: Vec<VariantChip>,
    missing: Vec<VariantChip>,
    updated: String,
}

#[derive(Template)]
#[template(path = "admin_kb.html")]
struct ListPage {
    c: Chrome,
    sections: Vec<Section>,
    q: String,
    categories: Vec<Choice>,
    statuses: Vec<Choice>,
    missing: Vec<Choice>,
    rows: Vec<ArticleRow>,
    count: String,
    prev: Option<String>,
    next: Option<String>,
    deleted: bool,
    kb_running: bool,
}

/// Whether an article matches the words of a search (every word, anywhere, any case).
fn matches(a: &Article, q: &str) -> bool {
    let words: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
    if words.is_empty() {
        return true;
    }
    let mut hay = format!("{} {} {} {}", a.slug, a.category, a.tags.join(" "), a.intents.join(" "));
    for t in &a.translations {
        hay.push(' ');
        hay.push_str(&t.title);
        hay.push(' ');
        hay.push_str(&t.body);
    }
    let hay = hay.to_lowercase();
    words.iter().all(|w| hay.contains(w.as_str()))
}

fn list_url(q: &ListQuery, page: usize) -> String {
    format!(
        "/admin/kb?q={}&category={}&status={}&missing={}&page={page}",
        urlencode(&q.q),
        urlencode(&q.category),
        urlencode(&q.status),
        urlencode(&q.missing)
    )
}

/// `GET /admin/kb`: every article (drafts included), searchable and filtered.
async fn list(State(st): State<AppState>, me: UiUser, Query(q): Query<ListQuery>) -> Response {
    if let Err(r) = me.require(Role::Admin) {
        return r;
    }
    let all = match st.engine.store().list_articles().await {
        Ok(a) => a,
        Err(e) => return store_error(&me.tr, e),
    };
    let mut per_category: BTreeMap<String, usize> = BTreeMap::new();
    for a in &all {
        *per_category.entry(a.category.clone()).or_default() += 1;
    }
    let status = ArticleStatus::parse(&q.status);
    let found: Vec<&Article> = all
        .iter()
        .filter(|a| q.category.is_empty() || a.category == q.category)
        .filter(|a| status.is_none_or(|s| a.translations.iter().any(|t| t.status == s)))
        .filter(|a| q.missing.is_empty() || a.translation(&q.missing).is_none())
        .filter(|a| matches(a, &q.q))
        .collect();
    let page = q.page.unwrap_or(0);
    let lang = me.tr.lang();
    let rows = found
        .iter()
        .skip(page * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|a| {
            let id = a.id.to_string();
            let title =
                a.translation(lang).or_else(|| a.translations.first()).map(|t| t.title.clone()).unwrap_or_default();
            ArticleRow {
                variants: a
                    .translations
                    .iter()
                    .map(|t| VariantChip {
                        href: format!("/admin/kb/{id}?locale={}", urlencode(&t.locale)),
                        status: t.status.as_str(),
                        label: format!("{} · {} · v{}", t.locale, status_label(&me, t.status), t.version),
                        locale: t.locale.clone(),
                    })
                    .collect(),
                missing: EXPECTED_LOCALES
                    .iter()
                    .filter(|l| a.translation(l).is_none())
                    .map(|l| VariantChip {
                        href: format!("/admin/kb/{id}?locale={l}"),
                        status: "missing",
                        label: me.tr.t1("kbedit-missing", "locale", l),
                        locale: (*l).to_owned(),
                    })
                    .collect(),
                updated: me.tr.datetime(&a.updated_at),
                category: category_label(&me, &a.category),
                tags: a.tags.join(", "),
                slug: a.slug.clone(),
                title,
                id,
            }
        })
        .collect();
    let any = |selected: bool| Choice { value: String::new(), label: me.tr.t("kbedit-any"), selected };
    let mut categories = vec![any(q.category.is_empty())];
    categories.extend(per_category.iter().map(|(c, n)| Choice {
        value: c.clone(),
        label: format!("{} ({n})", category_label(&me, c)),
        selected: *c == q.category,
    }));
    let mut statuses = vec![any(status.is_none())];
    statuses.extend([ArticleStatus::Draft, ArticleStatus::Published].map(|s| Choice {
        value: s.as_str().to_owned(),
        label: status_label(&me, s),
        selected: status == Some(s),
    }));
    let mut missing = vec![any(q.missing.is_empty())];
    missing.extend(EXPECTED_LOCALES.iter().map(|l| Choice {
        value: (*l).to_owned(),
        label: (*l).to_owned(),
        selected: q.missing == *l,
    }));
    render(&ListPage {
        c: me.chrome("admin"),
        sections: sections(&me, "kb"),
        count: me.tr.tn("kbedit-count", "count", i64::try_from(found.len()).unwrap_or(i64::MAX)),
        prev: (page > 0).then(|| list_url(&q, page - 1)),
        next: ((page + 1) * PAGE_SIZE < found.len()).then(|| list_url(&q, page + 1)),
        deleted: q.deleted.is_some(),
        kb_running: st.engine.kb().is_some(),
        q: q.q.clone(),
        categories,
        statuses,
        missing,
        rows,
    })
}

// ---- editor ----

pub(crate) struct Tab {
    label: String,
    href: String,
    current: bool,
    status: &'static str,
}

pub(crate) struct HistoryRow {
    locale: String,
    version: i64,
    status: String,
    title: String,
    by: String,
    when: String,
    href: String,
}

/// What the editor's form holds (from the store, a loaded version or the posted form).
#[derive(Default)]
struct Draft {
    slug: String,
    category: String,
    tags: String,
    intents: String,
    locale: String,
    title: String,
    body: String,
    status: String,
    /// The variant's version the text is based on (0: a new variant).
    base_version: i64,
}

#[derive(Template)]
#[template(path = "admin_kb_edit.html")]
struct EditPage {
    c: Chrome,
    sections: Vec<Section>,
    is_new: bool,
    id: String,
    d: Draft,
    tabs: Vec<Tab>,
    add: Vec<Tab>,
    /// "Version N" of the stored variant the form is based on (empty for a new one).
    version_label: String,
    /// The variant exists and is not the only one: it can be deleted.
    can_delete_variant: bool,
    /// Another variant of the article, shown beside a new translation.
    reference: Option<(String, String, String)>,
    preview_html: String,
    error: Option<String>,
    notice: Option<String>,
    public_url: Option<String>,
    categories: Vec<String>,
    intents: Vec<&'static str>,
    locales: Vec<&'static str>,
    history: Vec<HistoryRow>,
}

async fn render_md(md: &str) -> String {
    let md = md.to_owned();
    tokio::task::spawn_blocking(move || switchboard_kb::render::to_html(&md)).await.unwrap_or_default()
}

/// The editor page for `article` (None: a new article) holding `d`.
async fn editor(
    st: &AppState,
    me: &UiUser,
    article: Option<&Article>,
    d: Draft,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let store = st.engine.store();
    let categories = match store.list_articles().await {
        Ok(all) => {
            let mut c: Vec<String> = all.into_iter().map(|a| a.category).collect();
            c.sort();
            c.dedup();
            c
        }
        Err(e) => return store_error(&me.tr, e),
    };
    let mut tabs = Vec::new();
    let mut add = Vec::new();
    let mut reference = None;
    let mut history = Vec::new();
    let mut public_url = None;
    if let Some(a) = article {
        let id = a.id.to_string();
        for t in &a.translations {
            let current = t.locale.eq_ignore_ascii_case(&d.locale);
            tabs.push(Tab {
                label: format!("{} · {}", t.locale, status_label(me, t.status)),
                href: format!("/admin/kb/{id}?locale={}", urlencode(&t.locale)),
                current,
                status: t.status.as_str(),
            });
            if current
                && t.status == ArticleStatus::Published
                && super::i18n::Locale::ALL.iter().any(|l| l.tag() == t.locale)
            {
                public_url = Some(format!("/help/{}/articles/{}", t.locale, a.slug));
            }
        }
        for l in EXPECTED_LOCALES.iter().filter(|l| a.translation(l).is_none()) {
            add.push(Tab {
                label: me.tr.t1("kbedit-add-translation", "locale", l),
                href: format!("/admin/kb/{id}?locale={l}"),
                current: l.eq_ignore_ascii_case(&d.locale),
                status: "missing",
            });
        }
        if a.translation(&d.locale).is_none() {
            reference = a
                .translation(me.tr.lang())
                .or_else(|| a.translations.first())
                .map(|t| (t.locale.clone(), t.title.clone(), t.body.clone()));
        }
        let (versions, users) = match tokio::try_join!(store.article_history(a.id), store.list_users()) {
            Ok(v) => v,
            Err(e) => return store_error(&me.tr, e),
        };
        let names: HashMap<_, _> = users.into_iter().map(|u| (u.id, u.name)).collect();
        history = versions
            .into_iter()
            .take(100)
            .map(|v| HistoryRow {
                href: format!("/admin/kb/{id}?locale={}&version={}", urlencode(&v.locale), v.version),
                by: v.edited_by.and_then(|u| names.get(&u).cloned()).unwrap_or_else(|| "—".into()),
                when: me.tr.datetime(&v.created_at),
                status: status_label(me, v.status),
                locale: v.locale,
                version: v.version,
                title: v.title,
            })
            .collect();
    }
    let preview_html = render_md(&d.body).await;
    let mut intents: Vec<&'static str> = switchboard_nlp::intent::INTENTS.to_vec();
    intents.sort_unstable();
    let page = EditPage {
        c: me.chrome("admin"),
        sections: sections(me, "kb"),
        is_new: article.is_none(),
        version_label: if d.base_version > 0 {
            me.tr.tn("kbedit-version", "version", d.base_version)
        } else {
            String::new()
        },
        can_delete_variant: article.is_some_and(|a| a.translations.len() > 1 && a.translation(&d.locale).is_some()),
        id: article.map(|a| a.id.to_string()).unwrap_or_default(),
        d,
        tabs,
        add,
        reference,
        preview_html,
        error,
        notice,
        public_url,
        categories,
        intents,
        locales: EXPECTED_LOCALES.to_vec(),
        history,
    };
    let mut resp = render(&page);
    if page.error.is_some() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

/// The form's starting values for a variant of a stored article.
fn draft_of(a: &Article, locale: &str) -> Draft {
    let t = a.translation(locale);
    Draft {
        slug: a.slug.clone(),
        category: a.category.clone(),
        tags: a.tags.join(", "),
        intents: a.intents.join(", "),
        locale: t.map_or_else(|| locale.to_owned(), |t| t.locale.clone()),
        title: t.map(|t| t.title.clone()).unwrap_or_default(),
        body: t.map(|t| t.body.clone()).unwrap_or_default(),
        status: t.map_or(ArticleStatus::Draft, |t| t.status).as_str().to_owned(),
        base_version: t.map_or(0, |t| t.version),
    }
}

#[derive(Deserialize, Default)]
struct EditQuery {
    locale: Option<String>,
    version: Option<i64>,
    saved: Option<i64>,
}

/// `GET /admin/kb/new`.
async fn new_article(State(st): State<AppState>, me: UiUser, Query(q): Query<EditQuery>) -> Response {
    if let Err(r) = me.require(Role::Admin) {
        return r;
    }
    let locale = q.locale.filter(|l| valid_locale(l)).unwrap_or_else(|| "en".into());
    let d = Draft { locale, status: "draft".into(), ..Draft::default() };
    editor(&st, &me, None, d, None, None).await
}

/// `GET /admin/kb/{id}?locale=&version=`: one variant (a new one when the article has none in
/// that locale), or a stored version of it loaded into the form.
async fn edit(State(st): State<AppState>, me: UiUser, Path(id): Path<String>, Query(q): Query<EditQuery>) -> Response {
    if let Err(r) = me.require(Role::Admin) {
        return r;
    }
    let a = match find(&st, &id).await {
        Ok(Some(a)) => a,
        Ok(None) => return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return store_error(&me.tr, e),
    };
    let locale = match q.locale {
        Some(l) if valid_locale(&l) => l,
        Some(_) => return page_error(&me.tr, StatusCode::BAD_REQUEST, "kbedit-bad-locale"),
        None => a
            .translation(me.tr.lang())
            .or_else(|| a.translations.first())
            .map(|t| t.locale.clone())
            .unwrap_or_else(|| "en".into()),
    };
    let mut d = draft_of(&a, &locale);
    let mut notice = q.saved.map(|v| me.tr.tn("kbedit-saved", "version", v));
    if let Some(v) = q.version {
        let versions = match st.engine.store().article_history(a.id).await {
            Ok(v) => v,
            Err(e) => return store_error(&me.tr, e),
        };
        let Some(old) = versions.into_iter().find(|x| x.version == v && x.locale.eq_ignore_ascii_case(&locale)) else {
            return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found");
        };
        d.title = old.title;
        d.body = old.body;
        d.status = old.status.as_str().to_owned();
        let mut args = fluent_bundle::FluentArgs::new();
        args.set("version", v);
        args.set("date", me.tr.datetime(&old.created_at));
        notice = Some(st.ui.catalogue.get(me.tr.locale, "kbedit-loaded-version", Some(&args)));
    }
    editor(&st, &me, Some(&a), d, None, notice).await
}

fn field(f: &Fields, name: &str) -> String {
    f.get(name).map(|s| s.trim().to_owned()).unwrap_or_default()
}

fn words(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in s.split([',', '\n']).map(str::trim).filter(|w| !w.is_empty()) {
        if !out.iter().any(|o| o == w) {
            out.push(w.to_owned());
        }
    }
    out
}

/// Whether a category can be part of a help-center URL.
fn valid_category(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= 100
        && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// `POST /admin/kb/save`: saves one variant and the article's fields (`action=preview` only
/// shows the preview). A refused save shows the form again with the reason; nothing changes.
async fn save(State(st): State<AppState>, me: UiUser, AdminForm(f): AdminForm<Fields>) -> Response {
    let id = field(&f, "id");
    let existing = if id.is_empty() {
        None
    } else {
        match find(&st, &id).await {
            Ok(Some(a)) => Some(a),
            Ok(None) => return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found"),
            Err(e) => return store_error(&me.tr, e),
        }
    };
    let status = ArticleStatus::parse(&field(&f, "status")).unwrap_or(ArticleStatus::Draft);
    let d = Draft {
        // The slug names the article; it is set when the article is created.
        slug: existing.as_ref().map_or_else(|| field(&f, "slug").to_lowercase(), |a| a.slug.clone()),
        category: field(&f, "category").to_lowercase(),
        tags: words(&field(&f, "tags")).join(", "),
        intents: words(&field(&f, "intents")).join(", "),
        locale: field(&f, "locale"),
        title: field(&f, "title"),
        // The body keeps its spacing; only line endings are normalised.
        body: f.get("body").map(|b| b.replace("\r\n", "\n")).unwrap_or_default(),
        status: status.as_str().to_owned(),
        base_version: field(&f, "base_version").parse().unwrap_or(0),
    };
    let refuse = |d: Draft, why: String| editor(&st, &me, existing.as_ref(), d, Some(why), None);
    if field(&f, "action") == "preview" {
        return editor(&st, &me, existing.as_ref(), d, None, Some(me.tr.t("kbedit-preview-shown"))).await;
    }
    if !valid_locale(&d.locale) {
        return refuse(d, me.tr.t("kbedit-bad-locale")).await;
    }
    if !valid_category(&d.category) {
        return refuse(d, me.tr.t("kbedit-bad-category")).await;
    }
    let store = st.engine.store();
    if existing.is_none() {
        match store.article_by_slug(&d.slug).await {
            Ok(Some(_)) => {
                let why = me.tr.t1("kbedit-slug-taken", "slug", &d.slug);
                return refuse(d, why).await;
            }
            Ok(None) => {}
            Err(e) => return store_error(&me.tr, e),
        }
    }
    // Someone saved this variant after the page was opened: keep the text, say so, and let
    // the next save (based on the version now stored) replace it deliberately.
    let current = existing.as_ref().and_then(|a| a.translation(&d.locale)).map_or(0, |t| t.version);
    if current != d.base_version {
        let why = me.tr.tn("kbedit-conflict", "version", current);
        return refuse(Draft { base_version: current, ..d }, why).await;
    }
    let input = ArticleInput {
        slug: d.slug.clone(),
        category: d.category.clone(),
        tags: words(&d.tags),
        intents: words(&d.intents),
        translations: vec![TranslationInput {
            locale: d.locale.clone(),
            title: d.title.clone(),
            body: d.body.clone(),
            status,
        }],
    };
    if let Err(e) = input.validate() {
        return refuse(d, e.to_string().trim_start_matches("invalid: ").to_owned()).await;
    }
    let saved = match st.engine.kb() {
        Some(kb) => kb.save(&input, Some(me.user.id)).await,
        None => store.save_article(&input, Some(me.user.id)).await,
    };
    let article = match saved {
        Ok(a) => a,
        Err(switchboard_store::StoreError::Invalid(m)) => return refuse(d, m).await,
        Err(e) => return store_error(&me.tr, e),
    };
    let action = if existing.is_some() { "kb_article.update" } else { "kb_article.create" };
    let entry = NewAuditEntry {
        actor_id: Some(me.user.id),
        action: action.into(),
        target: format!("{}/{}", article.slug, d.locale),
        before: existing.as_ref().map(|a| serde_json::to_value(a).unwrap_or_default()),
        after: Some(serde_json::to_value(&article).unwrap_or_default()),
        at: Utc::now(),
    };
    audit(&st, entry).await;
    let version = article.translation(&d.locale).map_or(0, |t| t.version);
    Redirect::to(&format!("/admin/kb/{}?locale={}&saved={version}", article.id, urlencode(&d.locale))).into_response()
}

/// `POST /admin/kb/preview` (`body`): the Markdown as the help center would show it, as an HTML
/// fragment for the editor's live preview.
async fn preview(me: UiUser, AdminForm(f): AdminForm<Fields>) -> Response {
    let body = f.get("body").cloned().unwrap_or_default();
    if body.len() > 200_000 {
        return (StatusCode::PAYLOAD_TOO_LARGE, me.tr.t("kbedit-too-long")).into_response();
    }
    let html = render_md(&body).await;
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        html,
    )
        .into_response()
}

/// The article of a deletion whose form is admitted and whose confirmation box is ticked; else
/// the refusal, or the editor (of `locale`) asking for the confirmation.
async fn confirmed(st: &AppState, me: &UiUser, f: Fields, id: &str, locale: Option<&str>) -> Result<Article, Response> {
    let a = match find(st, id).await {
        Ok(Some(a)) => a,
        Ok(None) => return Err(page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found")),
        Err(e) => return Err(store_error(&me.tr, e)),
    };
    if !f.contains_key("confirm") {
        let locale = locale.map(str::to_owned).or_else(|| a.translations.first().map(|t| t.locale.clone()));
        let d = draft_of(&a, locale.as_deref().unwrap_or("en"));
        return Err(editor(st, me, Some(&a), d, Some(me.tr.t("kbedit-delete-unconfirmed")), None).await);
    }
    Ok(a)
}

/// `POST /admin/kb/{id}/delete` (with `confirm`): deletes the article, every translation and
/// its history.
async fn delete(
    State(st): State<AppState>,
    me: UiUser,
    Path(id): Path<String>,
    AdminForm(f): AdminForm<Fields>,
) -> Response {
    let a = match confirmed(&st, &me, f, &id, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let deleted = match st.engine.kb() {
        Some(kb) => kb.delete(a.id).await,
        None => st.engine.store().delete_article(a.id).await,
    };
    if let Err(e) = deleted {
        return store_error(&me.tr, e);
    }
    let entry = NewAuditEntry {
        actor_id: Some(me.user.id),
        action: "kb_article.delete".into(),
        target: a.slug.clone(),
        before: Some(serde_json::to_value(&a).unwrap_or_default()),
        after: None,
        at: Utc::now(),
    };
    audit(&st, entry).await;
    Redirect::to("/admin/kb?deleted=1").into_response()
}

/// `POST /admin/kb/{id}/translations/{locale}/delete` (with `confirm`): deletes one translation
/// and its history; the article's other translations stay.
async fn delete_translation(
    State(st): State<AppState>,
    me: UiUser,
    Path((id, locale)): Path<(String, String)>,
    AdminForm(f): AdminForm<Fields>,
) -> Response {
    let a = match confirmed(&st, &me, f, &id, Some(&locale)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let deleted = match st.engine.kb() {
        Some(kb) => kb.delete_translation(a.id, &locale).await,
        None => st.engine.store().delete_translation(a.id, &locale).await,
    };
    let after = match deleted {
        Ok(after) => after,
        Err(switchboard_store::StoreError::Invalid(m)) => {
            let d = draft_of(&a, &locale);
            return editor(&st, &me, Some(&a), d, Some(m), None).await;
        }
        Err(e) => return store_error(&me.tr, e),
    };
    let entry = NewAuditEntry {
        actor_id: Some(me.user.id),
        action: "kb_translation.delete".into(),
        target: format!("{}/{locale}", a.slug),
        before: Some(serde_json::to_value(&a).unwrap_or_default()),
        after: Some(serde_json::to_value(&after).unwrap_or_default()),
        at: Utc::now(),
    };
    audit(&st, entry).await;
    Redirect::to(&format!("/admin/kb/{}", a.id)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_categories() {
        assert_eq!(words("a, b,\n a ,, c"), vec!["a", "b", "c"]);
        assert!(valid_category("returns") && valid_category("app_2-x"));
        assert!(!valid_category("") && !valid_category("Returns") && !valid_category("a/b"));
    }
}
