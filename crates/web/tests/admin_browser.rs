//! The admin pages in a real browser (headless Debian `chromium` through `chromedriver`): an
//! admin signs in, walks every admin page in English, creates a team and changes its routing
//! policy, adds a canned reply with an English and a Chinese text, writes a knowledge-base
//! article watching the live preview (sanitised) and publishes it to the help center, turns the
//! bot on for a channel, sets a survey, adds an SLA policy; switches to Chinese and walks every page again; an
//! agent is refused an admin page. Screenshots go to `target/screenshots/admin-*.png`.
//!
//! Needs `chromium` and `chromium-driver` (scripts/test.sh installs them).
#![allow(clippy::unwrap_used)]

mod common;

use common::chrome::{shot, start_browser, text_of, wait_until};
use common::{PASSWORD, Setup, spawn};
use fantoccini::{Client, Locator};

/// Every admin page: (path, English heading, Chinese heading).
const PAGES: &[(&str, &str, &str)] = &[
    ("channels", "Channels", "渠道"),
    ("users", "Users and roles", "用户与角色"),
    ("teams", "Teams", "团队"),
    ("sla", "SLA policies", "SLA 策略"),
    ("calendars", "Business hours", "营业时间"),
    ("rules", "Automation", "自动化"),
    ("canned", "Canned replies", "快捷回复"),
    ("kb", "Knowledge base articles", "知识库文章"),
    ("bot", "FAQ bot", "常见问题机器人"),
    ("surveys", "Satisfaction surveys", "满意度调查"),
    ("audit", "Audit log", "审计日志"),
];

async fn sign_in(c: &Client, base: &str, email: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    c.find(Locator::Css("#email")).await.unwrap().send_keys(email).await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_until(c, "the inbox", "return location.pathname;", |s| s == "/inbox").await;
}

/// Opens every admin page and checks its heading, the current sub-navigation entry and the
/// page's language; one screenshot each.
async fn walk(c: &Client, base: &str, lang: &str) {
    for (path, en, zh) in PAGES {
        c.goto(&format!("{base}/admin/{path}")).await.unwrap();
        let heading = if lang == "en" { en } else { zh };
        wait_until(c, &format!("/admin/{path} in {lang}"), &text_of("main h1"), |s| s == *heading).await;
        let current = c
            .execute("var a = document.querySelector('.subnav a[aria-current=page]'); return a ? a.getAttribute('href') : '';", vec![])
            .await
            .unwrap();
        assert_eq!(current.as_str(), Some(format!("/admin/{path}").as_str()), "{path}");
        let html_lang = c.execute("return document.documentElement.lang;", vec![]).await.unwrap();
        assert_eq!(html_lang.as_str(), Some(if lang == "en" { "en" } else { "zh-CN" }));
        shot(c, &format!("admin-{path}-{lang}.png")).await;
    }
}

async fn fill(c: &Client, css: &str, text: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

/// Sets a field's value from script (for text with characters chromedriver cannot type).
async fn set_value(c: &Client, css: &str, text: &str) {
    let js = format!(
        "var e = document.querySelector({css:?}); e.value = {text:?}; e.dispatchEvent(new Event('input', {{bubbles: true}})); return 'ok';"
    );
    c.execute(&js, vec![]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_up_the_desk_in_the_browser() {
    let app = spawn(Setup { kb: true, ..Setup::default() }).await;
    let base = app.base.clone();
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = start_browser(profile.path()).await;

    sign_in(&c, &base, "admin@x.io").await;
    walk(&c, &base, "en").await;

    // A team, then a change of its routing policy.
    c.goto(&format!("{base}/admin/teams")).await.unwrap();
    fill(&c, "form[action='/admin/teams'] input[name=name]", "billing").await;
    fill(&c, "form[action='/admin/teams'] input[name=description]", "Invoices and refunds").await;
    click(&c, "form[action='/admin/teams'] button[type=submit]").await;
    wait_until(&c, "the team page", "return location.pathname;", |s| s == "/admin/teams/billing").await;
    c.goto(&format!("{base}/admin/teams")).await.unwrap();
    click(&c, "select[form='t-billing'][name=assignment_policy] option[value=round_robin]").await;
    click(&c, "form#t-billing button[type=submit]").await;
    // The select shows the choice before the form is posted: wait for the stored team.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let team = loop {
        let team = app.store.get_team("billing").await.unwrap().unwrap();
        if team.assignment_policy.as_str() == "round_robin" || std::time::Instant::now() > deadline {
            break team;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(team.assignment_policy.as_str(), "round_robin");
    assert_eq!(team.description, "Invoices and refunds");

    // A canned reply in two languages.
    c.goto(&format!("{base}/admin/canned")).await.unwrap();
    fill(&c, "form[action='/admin/canned'] input[name=shortcut]", "refund").await;
    fill(&c, "form[action='/admin/canned'] input[name=title]", "Refund started").await;
    fill(&c, "form[action='/admin/canned'] input[name=lang_0]", "en").await;
    fill(
        &c,
        "form[action='/admin/canned'] textarea[name=text_0]",
        "Hi {{contact.first_name}}, your refund is on its way.",
    )
    .await;
    fill(&c, "form[action='/admin/canned'] input[name=lang_1]", "zh").await;
    set_value(&c, "form[action='/admin/canned'] textarea[name=text_1]", "您好，退款已经在处理中。").await;
    click(&c, "form[action='/admin/canned'] button[type=submit]").await;
    wait_until(&c, "the canned reply", &text_of("main"), |s| s.contains("/refund")).await;
    let canned = app.store.list_canned(None).await.unwrap();
    let r = canned.iter().find(|r| r.shortcut == "refund").unwrap();
    assert_eq!(r.variants.get("zh").map(String::as_str), Some("您好，退款已经在处理中。"));
    shot(&c, "admin-canned-created.png").await;

    // A knowledge-base article: the preview follows the typing, sanitised; publish it.
    c.goto(&format!("{base}/admin/kb")).await.unwrap();
    click(&c, "#kb-new").await;
    wait_until(&c, "the editor", "return location.pathname;", |s| s == "/admin/kb/new").await;
    fill(&c, "#kb-slug", "gift-wrap").await;
    fill(&c, "#kb-category", "orders").await;
    fill(&c, "#kb-tags", "gifts").await;
    fill(&c, "#kb-title", "Do you offer gift wrapping?").await;
    let body = c.find(Locator::Css("#kb-body")).await.unwrap();
    body.send_keys("# Gift wrapping\n\nWe wrap any order for **free**.\n\n<img src=x onerror=alert(1)>").await.unwrap();
    wait_until(
        &c,
        "the live preview",
        "var p = document.querySelector('#kb-preview strong'); return p ? p.textContent : '';",
        |s| s == "free",
    )
    .await;
    let preview = c.execute("return document.querySelector('#kb-preview').innerHTML;", vec![]).await.unwrap();
    assert!(!preview.as_str().unwrap().contains("onerror"), "{preview}");
    wait_until(&c, "the preview title", &text_of("#kb-preview-title"), |s| s == "Do you offer gift wrapping?").await;
    click(&c, "input[name=status][value=published]").await;
    c.execute("window.scrollTo(0, 0); return '';", vec![]).await.unwrap();
    shot(&c, "admin-kb-editor.png").await;
    click(&c, "#kb-save").await;
    let notice = wait_until(&c, "saved", &text_of("#kb-notice"), |s| !s.is_empty()).await;
    assert_eq!(notice, "Saved: version 1.");
    click(&c, "#kb-public").await;
    wait_until(&c, "the help center", &text_of("h1"), |s| s == "Do you offer gift wrapping?").await;
    shot(&c, "admin-kb-help-center.png").await;

    // The bot on for the shop channel.
    c.goto(&format!("{base}/admin/bot")).await.unwrap();
    click(&c, "form[action='/admin/bot/shop'] input[name=enabled]").await;
    click(&c, "form[action='/admin/bot/shop'] button[type=submit]").await;
    wait_until(&c, "the bot saved", &text_of("p.notice"), |s| s == "Saved.").await;
    let bot = app.store.bot_settings("shop").await.unwrap().unwrap();
    assert_eq!(bot["enabled"], serde_json::Value::Bool(true));

    // CSAT after resolution on the shop channel, asked after 30 minutes.
    c.goto(&format!("{base}/admin/surveys")).await.unwrap();
    click(&c, "form[action='/admin/surveys/shop'] input[name=csat]").await;
    fill(&c, "form[action='/admin/surveys/shop'] input[name=delay_minutes]", "30").await;
    click(&c, "form[action='/admin/surveys/shop'] button[type=submit]").await;
    wait_until(&c, "the surveys saved", &text_of("p.notice"), |s| s == "Saved.").await;
    let surveys = app.store.survey_settings().await.unwrap();
    assert!(surveys.iter().any(|s| s.channel == "shop" && s.csat && !s.nps && s.delay_minutes == 30), "{surveys:?}");

    // An SLA policy from the example document the page offers.
    c.goto(&format!("{base}/admin/sla")).await.unwrap();
    click(&c, "form[action='/admin/sla'] button[type=submit]").await;
    // The example form itself mentions "Urgent": wait for the saved policy's own form instead.
    let saved = "return document.querySelectorAll(\"form[action^='/admin/sla/']\").length.toString();";
    wait_until(&c, "the saved policy", saved, |s| s != "0").await;
    assert_eq!(app.store.list_sla_policies().await.unwrap().len(), 1);

    // The audit log shows what was done.
    c.goto(&format!("{base}/admin/audit")).await.unwrap();
    let log = wait_until(&c, "the audit log", &text_of("main"), |s| s.contains("kb_article.create")).await;
    for action in
        ["team.create", "team.update", "canned.create", "bot.settings", "survey.settings", "sla_policy.create"]
    {
        assert!(log.contains(action), "{action} missing from {log}");
    }
    shot(&c, "admin-audit-after.png").await;

    // Chinese: every admin page again.
    c.goto(&format!("{base}/settings")).await.unwrap();
    click(&c, "#locale option[value='zh-CN']").await;
    click(&c, "#settings-save").await;
    wait_until(&c, "Chinese labels", &text_of("header.top nav"), |s| s.contains("管理")).await;
    walk(&c, &base, "zh").await;
    c.goto(&format!("{base}/admin/kb?q=gift")).await.unwrap();
    wait_until(&c, "the article list", &text_of("#kb-articles"), |s| {
        s.contains("gift-wrap") && s.contains("缺少 zh-CN")
    })
    .await;
    shot(&c, "admin-kb-list-zh.png").await;

    // On a phone the admin pages fit the screen's width (tables scroll inside their box).
    c.set_window_size(390, 844).await.unwrap();
    for path in ["/admin/kb/new", "/admin/kb?q=gift", "/admin/teams", "/admin/bot", "/admin/surveys", "/admin/audit"] {
        c.goto(&format!("{base}{path}")).await.unwrap();
        wait_until(&c, path, &text_of("main h1"), |s| !s.is_empty()).await;
        let fits = c
            .execute("if (document.documentElement.scrollWidth <= window.innerWidth + 1) return 'yes'; \
             var wide = Array.prototype.filter.call(document.querySelectorAll('body *'), function (e) { return e.getBoundingClientRect().right > window.innerWidth + 1; }); \
             return document.documentElement.scrollWidth + ': ' + wide.slice(-8).map(function (e) { return e.tagName + '.' + e.className + '#' + e.id; }).join(' ');", vec![])
            .await
            .unwrap();
        assert_eq!(fits.as_str(), Some("yes"), "{path} is wider than the phone");
    }
    shot(&c, "admin-audit-phone.png").await;
    c.goto(&format!("{base}/admin/kb/new")).await.unwrap();
    shot(&c, "admin-kb-editor-phone.png").await;
    c.set_window_size(1280, 900).await.unwrap();

    // An agent is refused.
    click(&c, "form[action='/logout'] button").await;
    wait_until(&c, "signed out", "return location.pathname;", |s| s == "/login").await;
    sign_in(&c, &base, "lin@x.io").await;
    for path in ["/admin/kb", "/admin/teams", "/admin/bot", "/admin/surveys"] {
        c.goto(&format!("{base}{path}")).await.unwrap();
        let msg = wait_until(&c, "the refusal", &text_of("#error-message"), |s| !s.is_empty()).await;
        assert_eq!(msg, "You do not have permission to open this page.", "{path}");
    }
    let nav = c.execute(&text_of("header.top nav"), vec![]).await.unwrap();
    assert!(!nav.as_str().unwrap().contains("Admin"), "{nav}");
    shot(&c, "admin-refused.png").await;

    c.close().await.unwrap();
}
