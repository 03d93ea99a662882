//! Web UI over HTTP: sign-in, sessions, CSRF, throttling, roles, languages, the inbox, the
//! composer and the audit log. The real router on port 0 against a fresh SQLite database.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Browser, PASSWORD, conversation_on, hidden, ingest, spawn_app};
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use serde_json::json;
use switchboard_domain::routing::Availability;
use switchboard_domain::{ChannelKind, ChannelSlug};
use switchboard_store::AuditFilter;

#[tokio::test]
async fn sign_in_sessions_and_sign_out_everywhere() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    // Signed out: pages send you to the sign-in form and back.
    let p = b.get("/inbox?view=all").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location.as_deref(), Some("/login?next=/inbox%3Fview%3Dall"));

    let p = b.login("lin@x.io", "wrong password").await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.body.contains("Wrong email or password."));
    assert!(!b.cookies.contains_key("sb_session"));

    // An unknown account gets the same answer as a wrong password.
    let p = b.login("nobody@x.io", PASSWORD).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.body.contains("Wrong email or password."));

    let p = b.login("LIN@x.io", PASSWORD).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/inbox"));
    let p = b.get("/inbox").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("Inbox") && p.body.contains("Lin"));
    let r = app.http.get(format!("{}/inbox", app.base)).header("cookie", b.cookie_header()).send().await.unwrap();
    let csp = r.headers().get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(r.headers().get("x-frame-options").unwrap(), "DENY");

    // The session cookie is HttpOnly and SameSite; Secure behind an HTTPS proxy.
    let r = app.http.get(format!("{}/login", app.base)).header("x-forwarded-proto", "https").send().await.unwrap();
    let c = r.headers().get(SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"), "{c}");

    // A second device; signing out everywhere ends both.
    let mut phone = Browser::new(&app);
    assert_eq!(phone.login("lin@x.io", PASSWORD).await.status, StatusCode::SEE_OTHER);
    assert_eq!(phone.get("/inbox").await.status, StatusCode::OK);
    let csrf = b.csrf().await;
    let p = b.post("/logout-everywhere", &[("_csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(phone.get("/inbox").await.status, StatusCode::SEE_OTHER);
    let entries = app.store.list_audit(&AuditFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert!(entries.items.iter().any(|e| e.action == "session.logout_everywhere" && e.target == "lin@x.io"));

    // Plain sign-out ends only this session.
    let mut b = Browser::new(&app);
    b.login("sam@x.io", PASSWORD).await;
    let csrf = b.csrf().await;
    assert_eq!(b.post("/logout", &[("_csrf", &csrf)]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get("/inbox").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_in_is_throttled_after_repeated_failures() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    for _ in 0..5 {
        assert_eq!(b.login("sam@x.io", "nope nope").await.status, StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused while throttled.
    let p = b.login("sam@x.io", PASSWORD).await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(p.body.contains("Too many failed attempts"));
    // Another account is not affected.
    assert_eq!(b.login("lin@x.io", PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn forms_without_the_csrf_token_change_nothing() {
    let app = spawn_app().await;
    let case = ingest(&app, "e1", "mia", "where is my parcel").await;
    let mut b = Browser::new(&app);
    b.login("lin@x.io", PASSWORD).await;

    // Sign-in itself needs the pre-session token.
    let mut fresh = Browser::new(&app);
    let p = fresh.post("/login", &[("email", "lin@x.io"), ("password", PASSWORD), ("_csrf", "forged")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);

    let path = format!("/c/{case}/reply");
    let p = b.post(&path, &[("text", "hello"), ("kind", "reply")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = b.post(&path, &[("text", "hello"), ("kind", "reply"), ("_csrf", "guess")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = b.post(&format!("/c/{case}/update"), &[("quick", "resolve")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let conv = app
        .store
        .get_conversation_by_case(switchboard_domain::CaseNumber::parse(&case).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.store.list_messages(conv.id).await.unwrap().len(), 1);
    assert_eq!(conv.status, switchboard_domain::Status::Open);

    // A cross-site Origin is refused even with the right token.
    let csrf = b.csrf().await;
    let r = app
        .http
        .post(format!("{}{path}", app.base))
        .header("cookie", b.cookie_header())
        .header("origin", "https://evil.example")
        .form(&[("text", "hello"), ("kind", "reply"), ("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Presence reports need the header token too.
    let r = app
        .http
        .post(format!("{}/ui/presence", app.base))
        .header("cookie", b.cookie_header())
        .json(&json!({"case": case, "state": "viewing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .http
        .post(format!("{}/ui/presence", app.base))
        .header("cookie", b.cookie_header())
        .header("x-csrf-token", &csrf)
        .json(&json!({"case": case, "state": "typing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn agents_cannot_open_admin_pages() {
    let app = spawn_app().await;
    let mut agent = Browser::new(&app);
    agent.login("lin@x.io", PASSWORD).await;
    let csrf = agent.csrf().await;
    for path in ["/admin/channels", "/admin/channels/new", "/admin/channels/shop", "/admin/users", "/admin/audit"] {
        let p = agent.get(path).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}");
        assert!(p.body.contains("You do not have permission"), "{path}");
    }
    let p = agent
        .post(
            "/admin/users",
            &[("_csrf", &csrf), ("email", "x@x.io"), ("name", "X"), ("role", "admin"), ("password", "0123456789ab")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(app.store.find_user_by_email("x@x.io").await.unwrap().is_none());
    let p = agent
        .post("/admin/channels/save", &[("_csrf", &csrf), ("slug", "shop"), ("name", "Hacked"), ("kind", "api")])
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(app.store.get_channel(&ChannelSlug::parse("shop").unwrap()).await.unwrap().unwrap().name, "Shop");
    // The admin menu is not even shown.
    assert!(!agent.get("/inbox").await.body.contains("/admin/channels"));

    // An agent can take a conversation but not hand it to someone else.
    let case = ingest(&app, "e1", "mia", "hello there").await;
    let sam = app.store.find_user_by_email("sam@x.io").await.unwrap().unwrap();
    let p = agent.post(&format!("/c/{case}/update"), &[("_csrf", &csrf), ("assignee", &sam.id.to_string())]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = agent.post(&format!("/c/{case}/update"), &[("_csrf", &csrf), ("quick", "assign_me")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn admins_manage_channels_and_users_and_every_change_is_audited() {
    let app = spawn_app().await;
    let mut admin = Browser::new(&app);
    admin.login("admin@x.io", PASSWORD).await;
    let p = admin.get("/admin/channels").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("/webhooks/shop") && p.body.contains("vt-123"));
    assert!(!p.body.contains("s3cret-value") && !p.body.contains("EAAG-secret-token"), "secret shown");
    let p = admin.get("/admin/channels/shop").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(!p.body.contains("s3cret-value") && !p.body.contains("EAAG-secret-token"), "secret in the edit form");
    assert!(p.body.contains("********"));
    let csrf = admin.csrf().await;

    // Edit: a blank secret keeps the stored one.
    let p = admin
        .post(
            "/admin/channels/save",
            &[
                ("_csrf", &csrf),
                ("slug", "shop"),
                ("name", "Web shop"),
                ("kind", "api"),
                ("callback_url", "https://shop.example/replies"),
                ("secret", ""),
                ("config", "{\"verify_token\": \"vt-456\"}"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let ch = app.store.get_channel(&ChannelSlug::parse("shop").unwrap()).await.unwrap().unwrap();
    assert_eq!((ch.name.as_str(), ch.secret.as_deref()), ("Web shop", Some("s3cret-value")));
    // Tokens left out of the settings are kept.
    assert_eq!(ch.config, json!({"verify_token": "vt-456", "access_token": "EAAG-secret-token"}));
    // Bad input: a clear error, nothing changed.
    let p = admin
        .post(
            "/admin/channels/save",
            &[("_csrf", &csrf), ("slug", "shop"), ("name", "X"), ("kind", "api"), ("config", "[1]")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("JSON object"));
    let p = admin
        .post("/admin/channels/save", &[("_csrf", &csrf), ("slug", "shop"), ("name", "X"), ("kind", "carrier-pigeon")])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = admin
        .post(
            "/admin/channels/save",
            &[
                ("_csrf", &csrf),
                ("slug", "shop"),
                ("name", "Dup"),
                ("kind", "api"),
                ("callback_url", "https://x.example/r"),
                ("is_new", "1"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert_eq!(app.store.get_channel(&ChannelSlug::parse("shop").unwrap()).await.unwrap().unwrap().name, "Web shop");

    // Users: create, change role, disable (which ends their sessions).
    let p = admin
        .post(
            "/admin/users",
            &[
                ("_csrf", &csrf),
                ("email", "kim@x.io"),
                ("name", "Kim"),
                ("role", "supervisor"),
                ("password", "a long password"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let mut kim = Browser::new(&app);
    assert_eq!(kim.login("kim@x.io", "a long password").await.status, StatusCode::SEE_OTHER);
    let kim_id = app.store.find_user_by_email("kim@x.io").await.unwrap().unwrap().id;
    let p = admin
        .post(
            &format!("/admin/users/{kim_id}"),
            &[("_csrf", &csrf), ("name", "Kim"), ("role", "agent"), ("disabled", "1")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(kim.get("/inbox").await.status, StatusCode::SEE_OTHER);
    let short = admin
        .post(
            "/admin/users",
            &[("_csrf", &csrf), ("email", "q@x.io"), ("name", "Q"), ("role", "agent"), ("password", "short")],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    // An admin cannot lock themselves out.
    let me = app.store.find_user_by_email("admin@x.io").await.unwrap().unwrap().id;
    let p = admin.post(&format!("/admin/users/{me}"), &[("_csrf", &csrf), ("name", "Ada"), ("role", "agent")]).await;
    assert_eq!(p.status, StatusCode::CONFLICT);

    let p = admin.get("/admin/audit").await;
    assert_eq!(p.status, StatusCode::OK);
    for action in ["channel.update", "user.create", "user.update"] {
        assert!(p.body.contains(action), "{action} missing from the audit page");
    }
    let log = app
        .store
        .list_audit(&AuditFilter { action_prefix: Some("channel.".into()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(log.items.len(), 1);
    let e = &log.items[0];
    assert_eq!(e.actor_email.as_deref(), Some("admin@x.io"));
    assert_eq!(e.before.as_ref().unwrap()["name"], "Shop");
    assert_eq!(e.after.as_ref().unwrap()["name"], "Web shop");
    assert_eq!(e.after.as_ref().unwrap()["secret_changed"], false);
    let all = serde_json::to_string(&log.items).unwrap();
    assert!(
        !all.contains("s3cret") && !all.contains("EAAG") && !all.contains("zzz-secret"),
        "secret in the audit log: {all}"
    );
}

#[tokio::test]
async fn inbox_conversation_and_composer() {
    let app = spawn_app().await;
    let case = ingest(&app, "e1", "mia", "my parcel never arrived").await;
    let other = ingest(&app, "e2", "leo", "refund for order 77").await;
    let mut b = Browser::new(&app);
    b.login("lin@x.io", PASSWORD).await;

    let p = b.get("/inbox?view=unassigned").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains(&case) && p.body.contains(&other));
    assert!(p.body.contains("my parcel never arrived"));
    let p = b.get("/inbox/rows?view=all&q=parcel").await;
    assert!(p.body.contains(&case) && !p.body.contains(&other));
    let p = b.get("/inbox?view=mine").await;
    assert!(!p.body.contains(&case));
    assert_eq!(b.get("/inbox?status=bogus").await.status, StatusCode::BAD_REQUEST);

    // "My teams" appears once Lin is in a team and lists that team's conversations.
    assert!(!p.body.contains("id=\"view-teams\""));
    let team: switchboard_store::routing::TeamInput = serde_json::from_value(json!({"name": "billing"})).unwrap();
    app.store.create_team(&team).await.unwrap();
    let lin = app.store.find_user_by_email("lin@x.io").await.unwrap().unwrap();
    let member: switchboard_store::routing::MemberInput = serde_json::from_value(json!({})).unwrap();
    app.store.put_team_member("billing", lin.id, &member).await.unwrap();
    let other_conv = app
        .store
        .get_conversation_by_case(switchboard_domain::CaseNumber::parse(&other).unwrap())
        .await
        .unwrap()
        .unwrap();
    let to_billing = switchboard_store::ConversationPatch { team: Some(Some("billing".into())), ..Default::default() };
    app.store.update_conversation(other_conv.id, &to_billing, None).await.unwrap();
    let p = b.get("/inbox?view=teams").await;
    assert!(p.body.contains("id=\"view-teams\"") && p.body.contains(&other) && !p.body.contains(&case), "{}", p.body);

    let p = b.get(&format!("/c/{case}")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("Mia Chen") && p.body.contains("my parcel never arrived"));
    let csrf = hidden(&p.body, "_csrf");
    let idem = hidden(&p.body, "idem");

    // Reply twice with the same form (a double click): one message.
    for _ in 0..2 {
        let p = b
            .post(
                &format!("/c/{case}/reply"),
                &[
                    ("_csrf", &csrf),
                    ("idem", &idem),
                    ("text", "Sorry! Checking now."),
                    ("kind", "reply"),
                    ("visibility", "private"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
    }
    let p = b
        .post(
            &format!("/c/{case}/reply"),
            &[("_csrf", &csrf), ("text", "customer is VIP"), ("kind", "note"), ("visibility", "public")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        b.post(&format!("/c/{case}/reply"), &[("_csrf", &csrf), ("text", "  "), ("kind", "reply")]).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let n = switchboard_domain::CaseNumber::parse(&case).unwrap();
    let conv = app.store.get_conversation_by_case(n).await.unwrap().unwrap();
    let msgs = app.store.list_messages(conv.id).await.unwrap();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert_eq!(msgs[2].direction, switchboard_domain::Direction::Note);
    assert_eq!(msgs[2].visibility, switchboard_domain::Visibility::Private);

    let p = b.get(&format!("/c/{case}/thread")).await;
    assert!(p.body.contains("Internal note — team only") && p.body.contains("Delivery"));

    // Assign to me, set priority and tags, then resolve.
    let p = b.post(&format!("/c/{case}/update"), &[("_csrf", &csrf), ("quick", "assign_me")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let me = app.store.find_user_by_email("lin@x.io").await.unwrap().unwrap();
    let p = b
        .post(
            &format!("/c/{case}/update"),
            &[
                ("_csrf", &csrf),
                ("status", "open"),
                ("assignee", &me.id.to_string()),
                ("priority", "urgent"),
                ("tags", "VIP, parcel"),
                ("snooze_until", ""),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let conv = app.store.get_conversation(conv.id).await.unwrap().unwrap();
    assert_eq!(
        (conv.assignee_id, conv.priority, conv.tags.clone()),
        (Some(me.id), switchboard_domain::Priority::Urgent, vec!["parcel".to_owned(), "vip".to_owned()])
    );
    let p = b.get("/inbox?view=mine&tag=vip").await;
    assert!(p.body.contains(&case));
    // Snoozing needs a future time in the user's zone.
    let p = b
        .post(
            &format!("/c/{case}/update"),
            &[("_csrf", &csrf), ("status", "snoozed"), ("snooze_until", "2001-01-01T10:00")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = b.post(&format!("/c/{case}/update"), &[("_csrf", &csrf), ("quick", "resolve")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.store.get_conversation(conv.id).await.unwrap().unwrap().status,
        switchboard_domain::Status::Resolved
    );
    assert_eq!(b.get("/c/SB-999999").await.status, StatusCode::NOT_FOUND);
    // Attachment downloads need a session and a real message.
    let missing = format!("/ui/attachments/{}/0", uuid::Uuid::now_v7());
    assert_eq!(b.get(&missing).await.status, StatusCode::NOT_FOUND);
    assert_eq!(b.get("/ui/attachments/not-an-id/0").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(Browser::new(&app).get(&missing).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_ui_speaks_chinese_from_the_browser_or_the_setting() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    b.lang = "zh-CN,zh;q=0.9,en;q=0.5";
    assert!(b.get("/login").await.body.contains("登录 Switchboard"));
    b.login("lin@x.io", PASSWORD).await;
    assert!(b.get("/inbox").await.body.contains("收件箱"));

    // The user's setting wins over the browser.
    b.lang = "zh-CN";
    let csrf = b.csrf().await;
    let p = b.post("/settings", &[("_csrf", &csrf), ("locale", "en"), ("time_zone", "Asia/Shanghai")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let p = b.get("/inbox").await;
    assert!(p.body.contains(">Inbox<") && !p.body.contains("收件箱"));
    let p = b.post("/settings", &[("_csrf", &csrf), ("locale", "zh-CN"), ("time_zone", "Mars/Olympus")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = b.post("/settings", &[("_csrf", &csrf), ("locale", "zh-CN"), ("time_zone", "")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    b.lang = "en";
    let p = b.get("/inbox").await;
    assert!(p.body.contains("收件箱") && p.body.contains("lang=\"zh-CN\""));
}

#[tokio::test]
async fn replies_outside_the_whatsapp_window_are_refused_in_the_composer() {
    let app = spawn_app().await;
    let cases = [
        conversation_on(&app, "wa", ChannelKind::Whatsapp, json!({}), "8613800001", "hello old", 48).await,
        conversation_on(&app, "wa", ChannelKind::Whatsapp, json!({}), "8613800002", "hello new", 1).await,
    ];
    let mut b = Browser::new(&app);
    b.login("lin@x.io", PASSWORD).await;
    let p = b.get(&format!("/c/{}", cases[0])).await;
    assert!(p.body.contains("window-closed") && p.body.contains("Only approved templates"), "{}", p.body);
    let csrf = hidden(&p.body, "_csrf");
    let p = b.post(&format!("/c/{}/reply", cases[0]), &[("_csrf", &csrf), ("text", "hi"), ("kind", "reply")]).await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert!(p.body.contains("window is closed"));
    // A note is always possible.
    let p =
        b.post(&format!("/c/{}/reply", cases[0]), &[("_csrf", &csrf), ("text", "call them"), ("kind", "note")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    // An approved template is possible outside the window.
    let p = b.get(&format!("/c/{}", cases[0])).await;
    assert!(p.body.contains("id=\"template-picker\" open"));
    let tpl = format!("/c/{}/template", cases[0]);
    let bad = b.post(&tpl, &[("_csrf", &csrf), ("name", "Not A Name"), ("language", "en_US")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("template name"));
    let p = b
        .post(
            &tpl,
            &[
                ("_csrf", &csrf),
                ("name", "order_update"),
                ("language", "en_US"),
                ("params", "Wang\nSB-1"),
                ("idem", "k1"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = b.get(&format!("/c/{}/thread", cases[0])).await;
    assert!(p.body.contains("[template order_update]"), "{}", p.body);
    let p = b.get(&format!("/c/{}", cases[1])).await;
    assert!(p.body.contains("window-open") && p.body.contains("Customer-service window open until"));
}

#[tokio::test]
async fn agents_set_their_availability_in_settings() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    b.login("lin@x.io", PASSWORD).await;
    let lin = app.store.find_user_by_email("lin@x.io").await.unwrap().unwrap();
    let page = b.get("/settings").await;
    assert!(page.body.contains("id=\"availability\""));
    let csrf = b.csrf().await;
    // Without the CSRF token nothing changes.
    assert_eq!(app.store.get_availability(lin.id).await.unwrap(), Availability::Offline);
    let p = b.post("/settings/availability", &[("availability", "online")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(app.store.get_availability(lin.id).await.unwrap(), Availability::Offline);
    let p = b.post("/settings/availability", &[("_csrf", &csrf), ("availability", "asleep")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = b.post("/settings/availability", &[("_csrf", &csrf), ("availability", "away")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(app.store.get_availability(lin.id).await.unwrap(), Availability::Away);
    assert!(b.get("/settings").await.body.contains("value=\"away\" selected"));
}

#[tokio::test]
async fn customer_messages_show_their_triage_and_agents_correct_the_intent() {
    let app = spawn_app().await;
    let case = ingest(&app, "t1", "mia", "我的账户被盗了 请马上处理").await;
    let conv = app
        .store
        .get_conversation_by_case(switchboard_domain::CaseNumber::parse(&case).unwrap())
        .await
        .unwrap()
        .unwrap();
    let msg = app.store.list_messages(conv.id).await.unwrap().remove(0);
    app.store
        .save_triage(vec![switchboard_store::MessageTriage {
            message_id: msg.id,
            conversation_id: conv.id,
            language: "zh".into(),
            language_confidence: 0.99,
            sentiment: "negative".into(),
            sentiment_score: -0.71,
            intent: "account_access".into(),
            intent_confidence: 0.83,
            intent_by_agent: false,
            priority: "P1".into(),
            priority_reasons: vec!["security keyword: 被盗".into()],
            pii: vec!["phone".into()],
            redacted_text: msg.text.clone(),
            intent_model_version: None,
            created_at: chrono::Utc::now(),
        }])
        .await
        .unwrap();
    let mut b = Browser::new(&app);
    b.login("lin@x.io", PASSWORD).await;
    let p = b.get(&format!("/c/{case}")).await;
    assert_eq!(p.status, StatusCode::OK);
    for shown in ["Chinese", "Negative", "Suggested P1", "security keyword: 被盗", "Personal data: phone number"] {
        assert!(p.body.contains(shown), "{shown:?} missing");
    }
    assert!(p.body.contains("value=\"account_access\" selected"));
    b.lang = "zh-CN";
    let p = b.get(&format!("/c/{case}")).await;
    assert!(p.body.contains("中文") && p.body.contains("负面") && p.body.contains("建议 P1"));

    // The agent corrects the intent: stored as a label, shown as set by an agent.
    let csrf = b.csrf().await;
    let mid = msg.id.to_string();
    let r =
        b.post(&format!("/c/{case}/intent"), &[("_csrf", &csrf), ("message_id", &mid), ("intent", "complaint")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let t = app.store.message_triage(msg.id).await.unwrap().unwrap();
    assert_eq!((t.intent.as_str(), t.intent_by_agent), ("complaint", true));
    assert_eq!(app.store.intent_labels().await.unwrap().len(), 1);
    // An unknown intent, or a message of another conversation, changes nothing.
    let r = b.post(&format!("/c/{case}/intent"), &[("_csrf", &csrf), ("message_id", &mid), ("intent", "bogus")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let other = ingest(&app, "t2", "leo", "where is my parcel").await;
    let r =
        b.post(&format!("/c/{other}/intent"), &[("_csrf", &csrf), ("message_id", &mid), ("intent", "praise")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Without the CSRF token: refused.
    let r = b.post(&format!("/c/{case}/intent"), &[("message_id", &mid), ("intent", "praise")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.store.message_triage(msg.id).await.unwrap().unwrap().intent, "complaint");
}
