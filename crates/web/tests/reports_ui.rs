//! Quality dashboards over HTTP: roles, the SVG charts, drill-down, exports, Chinese, bad input,
//! and the satisfaction history in the conversation view. Real router on port 0, fresh SQLite.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{Duration, Utc};
use common::{App, Browser, Page, Setup, spawn};
use reqwest::StatusCode;
use switchboard_domain::quality::{Period, PeriodKind};
use switchboard_domain::survey::SurveyKind;
use switchboard_domain::{ContactId, ConversationId, Direction, Priority, Status};
use switchboard_engine::EngineConfig;
use switchboard_store::quality::{HistoryConversation, HistoryMessage};

async fn spawn_app() -> App {
    let mut engine = EngineConfig::default();
    engine.quality.reports = false;
    engine.quality.surveys.enabled = false;
    // Imported history is final: no routing job re-deriving its SLA clocks.
    engine.routing.enabled = false;
    spawn(Setup { engine, ..Setup::default() }).await
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

    let mut agent = Browser::signed_in(&app, "lin@x.io").await;
    for path in ["/reports", "/reports/drill?measure=fcr", &format!("/reports/export/{}/csv", week.label())] {
        assert_eq!(agent.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let Page { body: inbox, .. } = agent.get("/inbox").await;
    assert!(!inbox.contains("href=\"/reports\""), "agents get no reports link");

    let mut boss = Browser::signed_in(&app, "sue@x.io").await;
    let Page { status, body: page, .. } = boss.get("/reports").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("Service quality {}", week.label())));
    assert!(page.matches("<svg").count() >= 6, "charts are inline SVG");
    assert!(page.contains("SLA attainment, %") && page.contains("NPS answers"), "SLA and NPS charts");
    assert!(page.contains("Lin"), "the leaderboard names the agent");
    assert!(page.contains("SB-000042"), "the case review lists the low CSAT case");
    assert!(page.contains("Bot handoff rate") && page.contains("Conversations with the bot"));
    assert!(page.contains("measure=bot_handed_off"), "the bot's numbers drill down");
    let Page { body: handed, .. } =
        boss.get(&format!("/reports/drill?period={}&measure=bot_handed_off", week.label())).await;
    assert!(handed.contains("href=\"/c/SB-000042\""), "{handed}");

    let Page { status, body: drill, .. } =
        boss.get(&format!("/reports/drill?period={}&measure=low_csat", week.label())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(drill.contains("href=\"/c/SB-000042\""), "{drill}");
    let Page { body: none, .. } = boss.get(&format!("/reports/drill?period={}&measure=escalated", week.label())).await;
    assert!(!none.contains("href=\"/c/SB-000042\""), "{none}");
    let Page { body: sliced, .. } =
        boss.get(&format!("/reports/drill?period={}&measure=conversations&dim=channel&key=tg", week.label())).await;
    assert!(!sliced.contains("href=\"/c/SB-000042\""), "another channel's slice");

    let Page { status, content_type: ctype, body: csv, .. } =
        boss.get(&format!("/reports/export/{}/csv", week.label())).await;
    assert_eq!((status, ctype.as_deref()), (StatusCode::OK, Some("text/csv; charset=utf-8")));
    assert!(csv.contains("\nsummary,conversations,1,0,,\n"), "{csv}");
    assert!(csv.contains("\nsummary,csat_percent,0,,0.8500,false\n"), "{csv}");
    assert!(csv.contains("\nsummary,bot_handoff_rate,1,,,\n"), "{csv}");
    let Page { content_type: ctype, body: pdf, .. } = boss.get(&format!("/reports/export/{}/pdf", week.label())).await;
    assert_eq!(ctype.as_deref(), Some("application/pdf"));
    assert!(pdf.starts_with("%PDF-") && !pdf.contains("FontFile2"), "English: Helvetica, nothing embedded");
    let Page { body: pdf, .. } = boss.get(&format!("/reports/export/{}/pdf?lang=zh-CN", week.label())).await;
    assert!(pdf.contains("/FontFile2") && pdf.contains("WenQuanYiMicroHei"), "Chinese: a font subset");
    let Page { body: html, .. } = boss.get(&format!("/reports/export/{}/html?lang=zh-CN", week.label())).await;
    assert!(html.contains("服务质量报告") && html.contains("机器人转人工率"), "{html}");
    let Page { body: json, .. } = boss.get(&format!("/reports/export/{}/json", week.label())).await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["current"]["first_response"]["mean_secs"], 1200.0);

    for bad in ["/reports?period=2026-W99", "/reports?dim=colour", "/reports/drill?measure=vibes"] {
        let Page { status, body, .. } = boss.get(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body.contains("invalid"), "{bad}: the reason is shown");
    }
    assert_eq!(boss.get("/reports/export/2026-W47/docx").await.status, StatusCode::NOT_FOUND);

    boss.lang = "zh-CN";
    let Page { body: zh, .. } = boss.get("/reports").await;
    assert!(zh.contains("服务质量") && zh.contains("首次联系解决率"));

    // The contact panel shows the satisfaction history.
    boss.lang = "en";
    let Page { status, body: conv, .. } = boss.get("/c/SB-000042").await;
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

    let mut anon = Browser::new(&app);
    anon.lang = "zh-CN";
    let Page { status, body: page, .. } = anon.get(&path).await;
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
    let admin_token = app.token.clone();
    let put = |token: String, slug: &str, body: serde_json::Value| {
        let req = app.http.put(format!("{}/api/v1/channels/{slug}/survey", app.base)).bearer_auth(token).json(&body);
        async move { req.send().await.unwrap() }
    };
    let body = serde_json::json!({"csat": true, "nps": false, "delay_minutes": 30, "min_days_between": 14});
    assert_eq!(put(app.token_of("sue@x.io").to_owned(), "wa", body.clone()).await.status(), StatusCode::FORBIDDEN);
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
        .bearer_auth(app.token_of("sue@x.io"))
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
        .bearer_auth(app.token_of("lin@x.io"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
