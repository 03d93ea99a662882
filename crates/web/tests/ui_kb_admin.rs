//! The knowledge-base editor in the admin UI over HTTP: admins only, list and search, create
//! and edit with translations, draft/published reaching the help center and search at once, the
//! sanitised preview, stale saves refused with the text kept, history loaded back, deletion, and
//! every change audited. The real router on port 0 against a fresh SQLite database.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Browser, Setup, hidden, spawn, textarea, unescape};
use reqwest::StatusCode;
use serde_json::Value;

async fn kb_app() -> common::App {
    spawn(Setup { kb: true, ..Setup::default() }).await
}

/// The article id in a `/admin/kb/{id}?…` redirect.
fn id_in(location: &str) -> String {
    location.trim_start_matches("/admin/kb/").split('?').next().unwrap().to_owned()
}

async fn search(app: &common::App, q: &str, locale: &str) -> Vec<String> {
    let v = app.api(reqwest::Method::GET, &format!("/api/v1/kb/search?q={q}&locale={locale}"), Value::Null).await;
    v["hits"].as_array().unwrap().iter().map(|h| h["slug"].as_str().unwrap().to_owned()).collect()
}

async fn post_form(b: &mut Browser<'_>, path: &str, v: &[(&str, String)]) -> common::Page {
    let pairs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post(path, &pairs).await
}

#[tokio::test]
async fn agents_and_supervisors_cannot_open_or_change_articles() {
    let app = kb_app().await;
    let id = app.store.article_by_slug("order-status").await.unwrap().unwrap().id.to_string();
    for who in ["lin@x.io", "sue@x.io"] {
        let mut b = Browser::signed_in(&app, who).await;
        let csrf = b.csrf().await;
        for path in ["/admin/kb".to_owned(), "/admin/kb/new".into(), format!("/admin/kb/{id}")] {
            let p = b.get(&path).await;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "{who} {path}");
            assert!(p.body.contains("You do not have permission"), "{path}");
        }
        let p = b
            .post(
                "/admin/kb/save",
                &[
                    ("_csrf", &csrf),
                    ("id", &id),
                    ("category", "orders"),
                    ("locale", "en"),
                    ("title", "Hacked"),
                    ("body", "x"),
                    ("base_version", "1"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert_eq!(
            b.post(&format!("/admin/kb/{id}/delete"), &[("_csrf", &csrf), ("confirm", "1")]).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            b.post("/admin/kb/preview", &[("_csrf", &csrf), ("body", "# x")]).await.status,
            StatusCode::FORBIDDEN
        );
    }
    let a = app.store.article_by_slug("order-status").await.unwrap().unwrap();
    assert!(a.translations.iter().all(|t| t.title != "Hacked"));
    // Without the CSRF token an admin changes nothing either.
    let mut admin = Browser::signed_in(&app, "admin@x.io").await;
    let p = admin.post(&format!("/admin/kb/{id}/delete"), &[("confirm", "1")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(app.store.article_by_slug("order-status").await.unwrap().is_some());
}

#[tokio::test]
async fn admins_write_translate_publish_and_delete_articles() {
    let app = kb_app().await;
    let mut b = Browser::signed_in(&app, "admin@x.io").await;

    // The list shows the seed with both languages; search and filters narrow it.
    let p = b.get("/admin/kb").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("10 articles") && p.body.contains("returns-refunds"), "{}", p.body);
    assert!(p.body.contains("zh-CN · Published"));
    let p = b.get("/admin/kb?q=REFUND").await;
    assert!(p.body.contains("returns-refunds") && !p.body.contains("data-slug=\"password-reset\""), "{}", p.body);
    let p = b.get("/admin/kb?q=%E5%AF%86%E7%A0%81").await; // 密码
    assert!(p.body.contains("data-slug=\"password-reset\"") && p.body.contains("One article"), "{}", p.body);
    let p = b.get("/admin/kb?category=billing").await;
    assert!(p.body.contains("data-slug=\"billing-charges\"") && !p.body.contains("data-slug=\"order-status\""));

    // A new article, English draft first: refused input shows the form again with the text kept.
    let p = b.get("/admin/kb/new").await;
    assert_eq!(p.status, StatusCode::OK);
    let csrf = hidden(&p.body, "_csrf");
    let body = "# Gift wrapping\n\nWe wrap any order for **free**.\n\n<script>alert(1)</script>\n\n[Evil](javascript:alert(1))";
    let new = |slug: &'static str, category: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("id", String::new()),
            ("slug", slug.to_owned()),
            ("category", category.to_owned()),
            ("tags", "gifts, orders, gifts".to_owned()),
            ("intents", "order_status".to_owned()),
            ("locale", "en".to_owned()),
            ("title", "Do you offer gift wrapping?".to_owned()),
            ("body", body.to_owned()),
            ("status", "draft".to_owned()),
            ("base_version", "0".to_owned()),
            ("action", "save".to_owned()),
        ]
    };
    let p = post_form(&mut b, "/admin/kb/save", &new("order-status", "orders")).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("The slug order-status is already used"), "{}", p.body);
    assert_eq!(textarea(&p.body, "id=\"kb-form\"", "body"), body);
    let p = post_form(&mut b, "/admin/kb/save", &new("gift-wrap", "Gifts & more")).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("The category must be"), "{}", p.body);
    assert!(app.store.article_by_slug("gift-wrap").await.unwrap().is_none());

    // Preview without saving: sanitised exactly as the help center shows it.
    let mut v = new("gift-wrap", "gifts");
    v.retain(|(k, _)| *k != "action");
    v.push(("action", "preview".into()));
    let p = post_form(&mut b, "/admin/kb/save", &v).await;
    assert_eq!(p.status, StatusCode::OK);
    let from = p.body.find("id=\"kb-preview\"").unwrap();
    let preview = &p.body[from..from + p.body[from..].find("</section>").unwrap()];
    assert!(preview.contains("<h1>Gift wrapping</h1>") && preview.contains("<strong>free</strong>"), "{preview}");
    assert!(!preview.contains("script") && !preview.contains("javascript:"), "{preview}");
    assert!(preview.contains(&switchboard_kb::render::to_html(body)), "{preview}");
    assert!(app.store.article_by_slug("gift-wrap").await.unwrap().is_none());
    // The live preview endpoint gives the same HTML.
    let p = b.post("/admin/kb/preview", &[("_csrf", &csrf), ("body", body)]).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.body, switchboard_kb::render::to_html(body));

    let p = post_form(&mut b, "/admin/kb/save", &new("gift-wrap", "gifts")).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let loc = p.location.unwrap();
    assert!(loc.ends_with("?locale=en&saved=1"), "{loc}");
    let id = id_in(&loc);
    let a = app.store.article_by_slug("gift-wrap").await.unwrap().unwrap();
    assert_eq!(a.id.to_string(), id);
    assert_eq!(a.tags, vec!["gifts", "orders"]);
    assert_eq!(a.intents, vec!["order_status"]);
    let p = b.get(&loc).await;
    assert!(p.body.contains("Saved: version 1."), "{}", p.body);
    assert!(p.body.contains("Add zh-CN translation"), "{}", p.body);
    // A draft is not public: not in the help center, not found by search.
    assert_eq!(b.get("/help/en/articles/gift-wrap").await.status, StatusCode::NOT_FOUND);
    assert!(!search(&app, "gift+wrapping", "en").await.contains(&"gift-wrap".to_owned()));

    // Publish it: the help center and search follow at once.
    let edit = |title: &str, body: &str, status: &str, locale: &str, base: &str| {
        vec![
            ("_csrf", csrf.clone()),
            ("id", id.clone()),
            ("category", "gifts".to_owned()),
            ("tags", "gifts, orders".to_owned()),
            ("intents", "order_status".to_owned()),
            ("locale", locale.to_owned()),
            ("title", title.to_owned()),
            ("body", body.to_owned()),
            ("status", status.to_owned()),
            ("base_version", base.to_owned()),
            ("action", "save".to_owned()),
        ]
    };
    let p = post_form(
        &mut b,
        "/admin/kb/save",
        &edit("Do you offer gift wrapping?", "We wrap any order for free.", "published", "en", "1"),
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let help = b.get("/help/en/articles/gift-wrap").await;
    assert_eq!(help.status, StatusCode::OK);
    assert!(help.body.contains("We wrap any order for free."));
    assert_eq!(search(&app, "gift+wrapping", "en").await.first().map(String::as_str), Some("gift-wrap"));

    // A stale page (based on version 1, now 2) does not overwrite; the text is kept.
    let p = post_form(&mut b, "/admin/kb/save", &edit("Old tab", "Typed in an old tab", "published", "en", "1")).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("now at version 2"), "{}", p.body);
    assert_eq!(textarea(&p.body, "id=\"kb-form\"", "body"), "Typed in an old tab");
    assert_eq!(hidden(&p.body, "base_version"), "2");
    assert_eq!(app.store.article_by_slug("gift-wrap").await.unwrap().unwrap().translation("en").unwrap().version, 2);

    // The Chinese translation: the editor shows the English text to translate from.
    let p = b.get(&format!("/admin/kb/{id}?locale=zh-CN")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("id=\"kb-reference\"") && p.body.contains("We wrap any order for free."), "{}", p.body);
    assert_eq!(hidden(&p.body, "base_version"), "0");
    let p = post_form(
        &mut b,
        "/admin/kb/save",
        &edit("提供礼品包装吗？", "所有订单均可免费礼品包装。", "published", "zh-CN", "0"),
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let a = app.store.article_by_slug("gift-wrap").await.unwrap().unwrap();
    assert_eq!(a.translations.len(), 2);
    assert_eq!(a.translation("en").unwrap().version, 2, "the English variant is untouched");
    let help = b.get("/help/zh-CN/articles/gift-wrap").await;
    assert!(help.body.contains("所有订单均可免费礼品包装"), "{}", help.body);
    assert_eq!(
        search(&app, "%E7%A4%BC%E5%93%81%E5%8C%85%E8%A3%85", "zh-CN").await.first().map(String::as_str),
        Some("gift-wrap")
    );
    let p = b.get("/admin/kb?missing=zh-CN").await;
    assert!(!p.body.contains("data-slug=\"gift-wrap\""));

    // History: version 1 (the draft) can be loaded back and saved again.
    let p = b.get(&format!("/admin/kb/{id}?locale=en")).await;
    assert!(p.body.contains("id=\"kb-history\""));
    assert!(unescape(&p.body).contains(&format!("/admin/kb/{id}?locale=en&version=1")), "{}", p.body);
    let p = b.get(&format!("/admin/kb/{id}?locale=en&version=1")).await;
    assert!(p.body.contains("Version 1 of"), "{}", p.body);
    assert_eq!(textarea(&p.body, "id=\"kb-form\"", "body"), body);
    assert_eq!(hidden(&p.body, "base_version"), "2");
    assert_eq!(b.get(&format!("/admin/kb/{id}?locale=en&version=9")).await.status, StatusCode::NOT_FOUND);

    // Chinese UI.
    b.lang = "zh-CN";
    let p = b.get(&format!("/admin/kb/{id}?locale=zh-CN")).await;
    assert!(p.body.contains("编辑文章") && p.body.contains("版本历史") && p.body.contains("已发布"), "{}", p.body);
    b.lang = "en";

    // One translation can be deleted (the others stay), the last one cannot.
    let p = b.post(&format!("/admin/kb/{id}/translations/zh-CN/delete"), &[("_csrf", &csrf), ("confirm", "1")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(b.get("/help/zh-CN/articles/gift-wrap").await.status, StatusCode::NOT_FOUND);
    assert!(search(&app, "%E7%A4%BC%E5%93%81%E5%8C%85%E8%A3%85", "zh-CN").await.iter().all(|s| s != "gift-wrap"));
    assert_eq!(b.get("/help/en/articles/gift-wrap").await.status, StatusCode::OK);
    let p = b.post(&format!("/admin/kb/{id}/translations/en/delete"), &[("_csrf", &csrf), ("confirm", "1")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("only translation"), "{}", p.body);

    // Deleting needs the confirmation box; then the article is gone everywhere.
    let p = b.post(&format!("/admin/kb/{id}/delete"), &[("_csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.store.article_by_slug("gift-wrap").await.unwrap().is_some());
    let p = b.post(&format!("/admin/kb/{id}/delete"), &[("_csrf", &csrf), ("confirm", "1")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location.as_deref(), Some("/admin/kb?deleted=1"));
    assert!(app.store.article_by_slug("gift-wrap").await.unwrap().is_none());
    assert_eq!(b.get("/help/en/articles/gift-wrap").await.status, StatusCode::NOT_FOUND);
    assert!(!search(&app, "gift+wrapping", "en").await.contains(&"gift-wrap".to_owned()));

    // Every change is in the audit log, with before and after, and who did it.
    let actions = app.audit_actions().await;
    let count = |a: &str| actions.iter().filter(|(x, _, _)| x == a).count();
    assert_eq!(count("kb_article.create"), 1, "{actions:?}");
    assert_eq!(count("kb_article.update"), 2, "{actions:?}");
    assert_eq!(count("kb_article.delete"), 1, "{actions:?}");
    assert_eq!(count("kb_translation.delete"), 1, "{actions:?}");
    assert!(actions.iter().any(|(a, before, after)| a == "kb_article.create" && !before && *after));
    assert!(actions.iter().any(|(a, before, after)| a == "kb_article.update" && *before && *after));
    assert!(actions.iter().any(|(a, before, after)| a == "kb_article.delete" && *before && !after));
    let log = b.get("/admin/audit").await;
    assert!(unescape(&log.body).contains("gift-wrap/zh-CN"), "{}", log.body);
}

#[tokio::test]
async fn article_and_bot_changes_over_the_api_are_audited_too() {
    let app = kb_app().await;
    let input = serde_json::json!({"slug": "api-article", "category": "orders", "translations": [
        {"locale": "en", "title": "From the API", "body": "Text", "status": "published"}]});
    app.api(reqwest::Method::POST, "/api/v1/kb/articles", input.clone()).await;
    let mut again = input;
    again["translations"][0]["body"] = "Changed".into();
    app.api(reqwest::Method::POST, "/api/v1/kb/articles", again).await;
    app.api(reqwest::Method::PUT, "/api/v1/channels/shop/bot", serde_json::json!({"enabled": true})).await;
    let r = app
        .http
        .delete(format!("{}/api/v1/kb/articles/api-article", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let actions = app.audit_actions().await;
    for (action, before, after) in [
        ("kb_article.create", false, true),
        ("kb_article.update", true, true),
        ("kb_article.delete", true, false),
        ("bot.settings", false, true),
    ] {
        assert!(actions.contains(&(action.to_owned(), before, after)), "{action}: {actions:?}");
    }
}
