//! Quality dashboards over HTTP: roles, the SVG charts, drill-down, exports, Chinese, bad input,
//! and the satisfaction history in the conversation view. Real router on port 0, fresh SQLite.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;

use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use chrono::{Duration, Utc};
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use switchboard_domain::quality::{Period, PeriodKind};
use switchboard_domain::survey::SurveyKind;
use switchboard_domain::{ContactId, ConversationId, Direction, Priority, Role, Status};
use switchboard_engine::{Engine, EngineConfig};
use switchboard_store::quality::{HistoryConversation, HistoryMessage};
use switchboard_store::{DynStore, NewUser, StoreOptions};
use switchboard_web::{AppState, WebConfig};
use tokio::net::TcpListener;

const PASSWORD: &str = "correct horse battery";

struct App {
    base: String,
    store: DynStore,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn spawn_app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("t.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2::Argon2::default().hash_password(PASSWORD.as_bytes(), &salt).unwrap().to_string();
    for (email, name, role) in [("boss@x.io", "Bo Supervisor", Role::Supervisor), ("lin@x.io", "Lin", Role::Agent)] {
        store
            .create_user(&NewUser { email: email.into(), name: name.into(), role, password_hash: Some(hash.clone()) })
            .await
            .unwrap();
    }
    let mut config = EngineConfig::default();
    config.quality.reports = false;
    config.quality.surveys.enabled = false;
    // Imported history is final: no routing job re-deriving its SLA clocks.
    config.routing.enabled = false;
    let engine = Engine::start(store.clone(), config).await;
    let app = switchboard_web::router(AppState::new(engine, WebConfig::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await });
    App {
        base: format!("http://{addr}"),
        store,
        http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        _dir: dir,
    }
}

struct Browser<'a> {
    app: &'a App,
    cookies: HashMap<String, String>,
    lang: &'static str,
}

impl<'a> Browser<'a> {
    async fn get(&mut self, path: &str) -> (StatusCode, String, String) {
        let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let r = self
            .app
            .http
            .get(format!("{}{path}", self.app.base))
            .header("cookie", cookie)
            .header("accept-language", self.lang)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        let status = r.status();
        let ctype = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        (status, ctype, String::from_utf8_lossy(&r.bytes().await.unwrap()).into_owned())
    }

    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all(SET_COOKIE) {
            let s = v.to_str().unwrap();
            let (kv, _) = s.split_once(';').unwrap_or((s, ""));
            let (k, v) = kv.split_once('=').unwrap();
            self.cookies.insert(k.to_owned(), v.to_owned());
        }
    }

    async fn login(app: &'a App, email: &str) -> Browser<'a> {
        let mut b = Browser { app, cookies: HashMap::new(), lang: "en" };
        let (_, _, form) = b.get("/login").await;
        let marker = "name=\"_csrf\" value=\"";
        let i = form.find(marker).unwrap() + marker.len();
        let csrf = form[i..i + form[i..].find('"').unwrap()].to_owned();
        let cookie = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let r = app
            .http
            .post(format!("{}/login", app.base))
            .header("cookie", cookie)
            .form(&[("email", email), ("password", PASSWORD), ("_csrf", &csrf), ("next", "/inbox")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        b.keep(&r);
        b
    }
}

#[tokio::test]
async fn supervisors_see_dashboards_drill_down_and_export() {
    let app = spawn_app().await;
    let week = Period::containing(PeriodKind::Week, Utc::now().date_naive());
    let (from, _) = week.bounds(chrono_tz::UTC);
    let lin = app.store.find_user_by_email("lin@x.io").await.unwrap().unwrap();
    let created = from + Duration::minutes(10);
    app.store
        .import_history(vec![HistoryConversation {
            id: ConversationId::new(),
            case_number: 42,
            channel: "wa".into(),
            contact_id: ContactId(uuid::Uuid::now_v7()),
            status: Status::Resolved,
            priority: Priority::High,
            team: None,
            assignee_id: Some(lin.id),
            created_at: created,
            resolved_at: Some(created + Duration::minutes(50)),
            reopen_count: 0,
            repeat_of: None,
            messages: vec![
                HistoryMessage {
                    direction: Direction::Inbound,
                    author_id: None,
                    text: "where is it".into(),
                    at: created,
                    triage: Some(("en".into(), "delivery".into(), "negative".into())),
                },
                HistoryMessage {
                    direction: Direction::Outbound,
                    author_id: Some(lin.id),
                    text: "here".into(),
                    at: created + Duration::minutes(20),
                    triage: None,
                },
            ],
            escalations: vec![],
            clocks: vec![],
            answers: vec![(SurveyKind::Csat, 2, created + Duration::minutes(55))],
            bot_outcomes: vec![(switchboard_store::kb::BotOutcomeKind::HandedOff, created)],
        }])
        .await
        .unwrap();

    let mut agent = Browser::login(&app, "lin@x.io").await;
    for path in ["/reports", "/reports/drill?measure=fcr", &format!("/reports/export/{}/csv", week.label())] {
        assert_eq!(agent.get(path).await.0, StatusCode::FORBIDDEN, "{path}");
    }
    let (_, _, inbox) = agent.get("/inbox").await;
    assert!(!inbox.contains("href=\"/reports\""), "agents get no reports link");

    let mut boss = Browser::login(&app, "boss@x.io").await;
    let (status, _, page) = boss.get("/reports").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("Service quality {}", week.label())));
    assert!(page.matches("<svg").count() >= 6, "charts are inline SVG");
    assert!(page.contains("SLA attainment, %") && page.contains("NPS answers"), "SLA and NPS charts");
    assert!(page.contains("Lin"), "the leaderboard names the agent");
    assert!(page.contains("SB-000042"), "the case review lists the low CSAT case");
    assert!(page.contains("Bot handoff rate") && page.contains("Conversations with the bot"));
    assert!(page.contains("measure=bot_handed_off"), "the bot's numbers drill down");
    let (_, _, handed) = boss.get(&format!("/reports/drill?period={}&measure=bot_handed_off", week.label())).await;
    assert!(handed.contains("href=\"/c/SB-000042\""), "{handed}");

    let (status, _, drill) = boss.get(&format!("/reports/drill?period={}&measure=low_csat", week.label())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(drill.contains("href=\"/c/SB-000042\""), "{drill}");
    let (_, _, none) = boss.get(&format!("/reports/drill?period={}&measure=escalated", week.label())).await;
    assert!(!none.contains("href=\"/c/SB-000042\""), "{none}");
    let (_, _, sliced) =
        boss.get(&format!("/reports/drill?period={}&measure=conversations&dim=channel&key=tg", week.label())).await;
    assert!(!sliced.contains("href=\"/c/SB-000042\""), "another channel's slice");

    let (status, ctype, csv) = boss.get(&format!("/reports/export/{}/csv", week.label())).await;
    assert_eq!((status, ctype.as_str()), (StatusCode::OK, "text/csv; charset=utf-8"));
    assert!(csv.contains("\nsummary,conversations,1,0,,\n"), "{csv}");
    assert!(csv.contains("\nsummary,csat_percent,0,,0.8500,false\n"), "{csv}");
    assert!(csv.contains("\nsummary,bot_handoff_rate,1,,,\n"), "{csv}");
    let (_, ctype, pdf) = boss.get(&format!("/reports/export/{}/pdf", week.label())).await;
    assert_eq!(ctype, "application/pdf");
    assert!(pdf.starts_with("%PDF-") && !pdf.contains("FontFile2"), "English: Helvetica, nothing embedded");
    let (_, _, pdf) = boss.get(&format!("/reports/export/{}/pdf?lang=zh-CN", week.label())).await;
    assert!(pdf.contains("/FontFile2") && pdf.contains("WenQuanYiMicroHei"), "Chinese: a font subset");
    let (_, _, html) = boss.get(&format!("/reports/export/{}/html?lang=zh-CN", week.label())).await;
    assert!(html.contains("服务质量报告") && html.contains("机器人转人工率"), "{html}");
    let (_, _, json) = boss.get(&format!("/reports/export/{}/json", week.label())).await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["current"]["first_response"]["mean_secs"], 1200.0);

    for bad in ["/reports?period=2026-W99", "/reports?dim=colour", "/reports/drill?measure=vibes"] {
        let (status, _, body) = boss.get(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body.contains("invalid"), "{bad}: the reason is shown");
    }
    assert_eq!(boss.get("/reports/export/2026-W47/docx").await.0, StatusCode::NOT_FOUND);

    boss.lang = "zh-CN";
    let (_, _, zh) = boss.get("/reports").await;
    assert!(zh.contains("服务质量") && zh.contains("首次联系解决率"));

    // The contact panel shows the satisfaction history.
    boss.lang = "en";
    let (status, _, conv) = boss.get("/c/SB-000042").await;
    assert_eq!(status, StatusCode::OK);
    assert!(conv.contains("Satisfaction") && conv.contains("CSAT 2/5"), "{conv}");
}

#[tokio::test]
async fn the_signed_web_survey_link_records_one_answer() {
    use switchboard_engine::surveys::{LINK_SECRET, link, link_signature};
    use switchboard_store::quality::{SurveySettings, SurveyState};

    let app = spawn_app().await;
    let now = Utc::now();
    app.store
        .put_survey_settings(&SurveySettings {
            channel: "wa".into(),
            csat: false,
            nps: true,
            delay_minutes: 0,
            min_days_between: 0,
        })
        .await
        .unwrap();
    app.store
        .import_history(vec![HistoryConversation {
            id: ConversationId::new(),
            case_number: 7,
            channel: "wa".into(),
            contact_id: ContactId(uuid::Uuid::now_v7()),
            status: Status::Resolved,
            priority: Priority::Normal,
            team: None,
            assignee_id: None,
            created_at: now - Duration::hours(1),
            resolved_at: Some(now + Duration::seconds(1)),
            reopen_count: 0,
            repeat_of: None,
            messages: vec![],
            escalations: vec![],
            clocks: vec![],
            answers: vec![],
            bot_outcomes: Vec::new(),
        }])
        .await
        .unwrap();
    let due = app.store.due_surveys(now + Duration::minutes(1), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let s = app.store.create_survey(&due[0], now).await.unwrap().unwrap();
    let secret = app.store.quality_secret(LINK_SECRET).await.unwrap();
    let url = link("http://ignored", &secret, s.id, now);
    let path = url.strip_prefix("http://ignored").unwrap().to_owned();
    let q = path.split_once('?').unwrap().1.to_owned();
    let exp = q.split('&').next().unwrap().strip_prefix("exp=").unwrap().to_owned();
    let sig = q.split("sig=").nth(1).unwrap().to_owned();

    let mut anon = Browser { app: &app, cookies: HashMap::new(), lang: "zh-CN" };
    let (status, _, page) = anon.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("推荐") && page.contains("value=\"10\""), "an NPS form in Chinese");
    let post = |form: Vec<(&'static str, String)>| {
        let http = app.http.clone();
        let url = format!("{}/survey/{}", app.base, s.id);
        async move { http.post(url).form(&form).send().await.unwrap() }
    };
    let tampered = post(vec![
        ("exp", (exp.parse::<i64>().unwrap() + 99).to_string()),
        ("sig", sig.clone()),
        ("score", "10".into()),
    ])
    .await;
    assert_eq!(tampered.status(), StatusCode::FORBIDDEN);
    let past = now.timestamp() - 10;
    let expired =
        post(vec![("exp", past.to_string()), ("sig", link_signature(&secret, s.id, past)), ("score", "10".into())])
            .await;
    assert_eq!(expired.status(), StatusCode::GONE);
    let bad = post(vec![("exp", exp.clone()), ("sig", sig.clone()), ("score", "11".into())]).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.store.get_survey(s.id).await.unwrap().unwrap().state,
        SurveyState::Pending,
        "bad input changes nothing"
    );
    let ok =
        post(vec![("exp", exp.clone()), ("sig", sig.clone()), ("score", "9".into()), ("comment", "friendly".into())])
            .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let again = post(vec![("exp", exp), ("sig", sig), ("score", "0".into())]).await;
    assert_eq!(again.status(), StatusCode::OK);
    let done = app.store.get_survey(s.id).await.unwrap().unwrap();
    assert_eq!(
        (done.state, done.score, done.comment.as_deref(), done.answered_via.as_deref()),
        (SurveyState::Answered, Some(9), Some("friendly"), Some("web"))
    );
}

#[tokio::test]
async fn admins_set_survey_settings_per_channel_over_the_api() {
    use switchboard_domain::{ChannelKind, ChannelSlug};
    let app = spawn_app().await;
    app.store
        .upsert_channel(&switchboard_store::ChannelRecord {
            slug: ChannelSlug::parse("wa").unwrap(),
            kind: ChannelKind::Api,
            name: "WA".into(),
            callback_url: None,
            secret: None,
            config: serde_json::json!({}),
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    let mut tokens = HashMap::new();
    for email in ["boss@x.io", "lin@x.io"] {
        let u = app.store.find_user_by_email(email).await.unwrap().unwrap();
        let (t, h) = switchboard_web::auth::generate_token();
        app.store.create_api_token(u.id, "t", &h).await.unwrap();
        tokens.insert(email, t);
    }
    let admin = app
        .store
        .create_user(&NewUser { email: "ada@x.io".into(), name: "Ada".into(), role: Role::Admin, password_hash: None })
        .await
        .unwrap();
    let (admin_token, h) = switchboard_web::auth::generate_token();
    app.store.create_api_token(admin.id, "t", &h).await.unwrap();
    let put = |token: String, slug: &str, body: serde_json::Value| {
        let req = app.http.put(format!("{}/api/v1/channels/{slug}/survey", app.base)).bearer_auth(token).json(&body);
        async move { req.send().await.unwrap() }
    };
    let body = serde_json::json!({"csat": true, "nps": false, "delay_minutes": 30, "min_days_between": 14});
    assert_eq!(put(tokens["boss@x.io"].clone(), "wa", body.clone()).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(put(admin_token.clone(), "nope", body.clone()).await.status(), StatusCode::NOT_FOUND);
    let bad = put(
        admin_token.clone(),
        "wa",
        serde_json::json!({"csat": true, "nps": false, "delay_minutes": -5, "min_days_between": 1}),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.unwrap().contains("delay_minutes"));
    assert!(app.store.survey_settings().await.unwrap().is_empty(), "bad input changes nothing");
    assert_eq!(put(admin_token, "wa", body).await.status(), StatusCode::OK);
    let list: serde_json::Value = app
        .http
        .get(format!("{}/api/v1/surveys/settings", app.base))
        .bearer_auth(&tokens["boss@x.io"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["channel"], "wa");
    assert_eq!(list[0]["delay_minutes"], 30);
    let r = app
        .http
        .get(format!("{}/api/v1/surveys/settings", app.base))
        .bearer_auth(&tokens["lin@x.io"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
