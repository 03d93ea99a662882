//! The scheduled-report job generates last week's and last month's report once and mails each
//! once to a local SMTP sink started by the test; exports render the same numbers.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use switchboard_domain::quality::PeriodKind;
use switchboard_domain::survey::SurveyKind;
use switchboard_domain::{ContactId, ConversationId, Direction, Priority, Status, UserId};
use switchboard_engine::mail::SmtpConfig;
use switchboard_engine::report::{self, to_csv, to_html};
use switchboard_engine::report_job::{self, QualityConfig};
use switchboard_engine::report_text::ReportLocale;
use switchboard_store::quality::{HistoryConversation, HistoryMessage};
use switchboard_store::{DynStore, StoreOptions};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A minimal SMTP server on loopback that accepts every message and keeps its DATA.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let store = mails.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                w.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_ascii_uppercase();
                    if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                        w.write_all(b"250-sink\r\n250 8BITMIME\r\n").await.unwrap();
                    } else if cmd == "DATA" {
                        w.write_all(b"354 end with .\r\n").await.unwrap();
                        let mut data = String::new();
                        loop {
                            line.clear();
                            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" {
                                break;
                            }
                            data.push_str(&line);
                        }
                        store.lock().unwrap().push(data);
                        w.write_all(b"250 queued\r\n").await.unwrap();
                    } else if cmd == "QUIT" {
                        w.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else {
                        w.write_all(b"250 ok\r\n").await.unwrap();
                    }
                }
            });
        }
    });
    (port, mails)
}

fn conversation(n: i64, created: chrono::DateTime<Utc>, agent: UserId) -> HistoryConversation {
    HistoryConversation {
        id: ConversationId::new(),
        case_number: n,
        channel: "wa".into(),
        contact_id: ContactId(uuid::Uuid::now_v7()),
        status: Status::Resolved,
        priority: Priority::Normal,
        team: None,
        assignee_id: Some(agent),
        created_at: created,
        resolved_at: Some(created + Duration::hours(2)),
        reopen_count: 0,
        repeat_of: None,
        messages: vec![
            HistoryMessage {
                direction: Direction::Inbound,
                author_id: None,
                text: "hi".into(),
                at: created,
                triage: None,
            },
            HistoryMessage {
                direction: Direction::Outbound,
                author_id: Some(agent),
                text: "hello".into(),
                at: created + Duration::minutes(30),
                triage: None,
            },
        ],
        escalations: vec![],
        clocks: vec![],
        answers: vec![(SurveyKind::Csat, if n == 1 { 5 } else { 1 }, created + Duration::hours(3))],
        bot_outcomes: Vec::new(),
    }
}

async fn open() -> (tempfile::TempDir, DynStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let store = switchboard_store::open(path.to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    (dir, store)
}

#[tokio::test]
async fn last_week_is_reported_and_mailed_once() {
    let (_dir, store) = open().await;
    let week = report::last_complete(PeriodKind::Week, Utc::now(), chrono_tz::UTC);
    let (from, _) = week.bounds(chrono_tz::UTC);
    let agent = UserId(uuid::Uuid::now_v7());
    store
        .import_history(vec![
            conversation(1, from + Duration::hours(10), agent),
            conversation(2, from + Duration::hours(30), agent),
        ])
        .await
        .unwrap();
    let (port, mails) = smtp_sink().await;
    let cfg = QualityConfig {
        smtp: Some(SmtpConfig {
            url: format!("smtp://127.0.0.1:{port}"),
            from: "Switchboard <reports@example.test>".into(),
            to: vec!["lead@example.test".into()],
        }),
        ..Default::default()
    };
    let made = report_job::round(&store, &cfg).await.unwrap();
    let month = report::last_complete(PeriodKind::Month, Utc::now(), chrono_tz::UTC);
    assert_eq!(made, vec![week.label(), month.label()]);
    assert!(report_job::round(&store, &cfg).await.unwrap().is_empty(), "generated once");

    let stored = store.get_report(&week.label()).await.unwrap().unwrap();
    assert!(stored.emailed_at.is_some());
    let doc: report::ReportDoc = serde_json::from_value(stored.document.unwrap()).unwrap();
    assert_eq!(doc.current.conversations, 2);
    assert_eq!(doc.current.responded, 2);
    assert_eq!(doc.current.first_response.mean_secs, Some(1800.0));
    assert_eq!((doc.current.csat.answers, doc.current.csat.satisfied), (2, 1));
    assert_eq!(doc.review.len(), 1, "the CSAT 1 case");
    assert_eq!(doc.review[0].case_number, 2);

    let sent = mails.lock().unwrap().clone();
    let subjects: Vec<bool> =
        sent.iter().map(|m| m.contains(&format!("switchboard-report-{}", week.label()))).collect();
    assert_eq!(subjects.iter().filter(|b| **b).count(), 1, "the week's report is mailed once: {subjects:?}");
    let mail = sent.iter().find(|m| m.contains(&format!("switchboard-report-{}", week.label()))).unwrap();
    assert!(mail.contains("text/csv") && mail.contains("application/pdf") && mail.contains("text/html"));
    assert!(mail.contains("lead@example.test"));

    // Exports of the stored document.
    let csv = to_csv(&doc);
    assert!(csv.starts_with("section,metric,current,previous,target,meets_target\n"));
    assert!(csv.contains("\nsummary,conversations,2,0,,\n"), "{csv}");
    assert!(csv.contains("\nsummary,csat_percent,0.5000,,0.8500,false\n"), "{csv}");
    assert!(csv.contains("\nsummary,first_response_mean_secs,1800,,,\n"), "{csv}");
    assert!(csv.contains("\nreview,2,\"low_csat\",,,\n"), "{csv}");
    let html = to_html(&doc, ReportLocale::En);
    assert!(html.contains("<svg") && !html.contains("<script"));
    assert!(html.contains(&format!("Service quality report {}", week.label())));
    let pdf = switchboard_engine::pdf::to_pdf(&doc, ReportLocale::En);
    assert!(pdf.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("Service quality report") && text.contains("SB-000002"), "PDF text is uncompressed");
    assert!(!text.contains("FontFile2"), "Latin text embeds no font");

    // In Chinese: the labels come from the zh-CN catalogue and the PDF embeds a font subset
    // whose ToUnicode map lets the text be copied.
    let html = to_html(&doc, ReportLocale::ZhCn);
    assert!(html.contains(&format!("服务质量报告 {}", week.label())) && html.contains("回复率"), "{html}");
    let pdf = switchboard_engine::pdf::to_pdf(&doc, ReportLocale::ZhCn);
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/FontFile2") && text.contains("/Identity-H") && text.contains("/ToUnicode"));
    assert!(text.contains("+WenQuanYiMicroHei"));
    let cmap = text.to_ascii_uppercase();
    for c in "服务质量报告回复率".chars() {
        assert!(cmap.contains(&format!("<{:04X}>", c as u32)), "{c} is in the ToUnicode map");
    }
    assert!(pdf.len() < 60_000, "a subset, not the whole font: {} bytes", pdf.len());
    store.close().await;
}

#[tokio::test]
async fn an_unreachable_mail_server_keeps_the_report_and_retries() {
    let (_dir, store) = open().await;
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = QualityConfig {
        smtp: Some(SmtpConfig {
            url: format!("smtp://127.0.0.1:{port}"),
            from: "r@example.test".into(),
            to: vec!["l@example.test".into()],
        }),
        ..Default::default()
    };
    let made = report_job::round(&store, &cfg).await.unwrap();
    assert_eq!(made.len(), 2);
    let week = report::last_complete(PeriodKind::Week, Utc::now(), chrono_tz::UTC);
    let r = store.get_report(&week.label()).await.unwrap().unwrap();
    assert_eq!((r.state.as_str(), r.emailed_at), ("done", None));
    assert!(
        switchboard_engine::mail::validate(&SmtpConfig {
            url: "smtp://x".into(),
            from: "not an address".into(),
            to: vec![]
        })
        .is_err()
    );
    store.close().await;
}
