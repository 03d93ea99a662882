//! Snapshots of the rendered reports of the golden week (the hand-built history of
//! `crates/store/tests/golden`, whose numbers the store suite checks): HTML in English and
//! Chinese, CSV, JSON and both PDFs (as text, embedded font data summarised), so any change to a
//! rendered report is a reviewed snapshot diff (`INSTA_UPDATE=always` rewrites them). The clock,
//! zone and ids are fixed, so the output is byte-for-byte deterministic; PostgreSQL (with
//! `TEST_DATABASE_URL`) must build the same document as SQLite.
#![allow(clippy::unwrap_used)]

#[path = "../../store/tests/golden/mod.rs"]
mod golden;

use switchboard_domain::quality::Period;
use switchboard_domain::routing::AssignmentPolicy;
use switchboard_engine::pdf::to_pdf;
use switchboard_engine::report::{self, ReportDoc, to_csv, to_html};
use switchboard_engine::report_text::ReportLocale;
use switchboard_store::routing::TeamInput;
use switchboard_store::{DynStore, StoreOptions};

/// The report of 2026-W47 (Europe/Berlin) built on 2026-11-30 from the golden history.
async fn golden_report(store: DynStore) -> ReportDoc {
    store.put_calendar("office", &golden::office()).await.unwrap();
    store
        .create_team(&TeamInput {
            name: "billing".into(),
            description: String::new(),
            assignment_policy: AssignmentPolicy::Manual,
            calendar: Some("office".into()),
        })
        .await
        .unwrap();
    store.import_history(golden::history()).await.unwrap();
    let now = golden::utc("2026-11-30T00:00:00Z");
    let week = Period::parse("2026-W47").unwrap();
    let doc = report::build(&store, &week, golden::BERLIN, &report::Targets::default(), now).await.unwrap();
    store.close().await;
    doc
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The PDF as text: every object and text stream as written, binary streams (the embedded font
/// subset) replaced by their length.
fn readable_pdf(pdf: &[u8]) -> String {
    let (start, end) = (b"stream\n".as_slice(), b"\nendstream".as_slice());
    let mut out = String::new();
    let mut rest = pdf;
    while let Some(i) = find(rest, start) {
        let (head, tail) = rest.split_at(i + start.len());
        out.push_str(&String::from_utf8_lossy(head));
        let n = find(tail, end).unwrap_or(tail.len());
        match std::str::from_utf8(&tail[..n]) {
            Ok(text) if tail[..n].is_ascii() => out.push_str(text),
            _ => out.push_str(&format!("<{n} bytes of binary data>")),
        }
        out.push_str("\nendstream");
        rest = tail.get(n + end.len()..).unwrap_or_default();
    }
    out.push_str(&String::from_utf8_lossy(rest));
    out
}

#[tokio::test]
async fn rendered_reports_of_the_golden_week_match_their_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let store = switchboard_store::open(path.to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    let doc = golden_report(store).await;
    // The numbers the snapshots show are the hand-computed ones (crates/store/tests/quality_suite.rs).
    assert_eq!((doc.current.conversations, doc.current.responded, doc.current.backlog), (5, 3, 3));

    insta::assert_snapshot!("week_en_html", to_html(&doc, ReportLocale::En));
    insta::assert_snapshot!("week_zh_html", to_html(&doc, ReportLocale::ZhCn));
    insta::assert_snapshot!("week_csv", to_csv(&doc));
    insta::assert_snapshot!("week_json", serde_json::to_string_pretty(&doc).unwrap());
    let en = readable_pdf(&to_pdf(&doc, ReportLocale::En));
    assert!(en.contains("/BaseFont /Helvetica") && !en.contains("/FontFile2"), "an all-Latin report embeds no font");
    insta::assert_snapshot!("week_en_pdf", en);
    let zh = readable_pdf(&to_pdf(&doc, ReportLocale::ZhCn));
    assert!(zh.contains("/ToUnicode") && zh.contains("+WenQuanYiMicroHei"), "a Chinese report embeds a font subset");
    insta::assert_snapshot!("week_zh_pdf", zh);

    if let Ok(admin) = std::env::var("TEST_DATABASE_URL") {
        let (url, db) = switchboard_store::postgres::create_scratch_database(&admin, "sb_report_snap").await.unwrap();
        let store = switchboard_store::open(&url, &StoreOptions::default()).await.unwrap();
        let on_pg = golden_report(store).await;
        switchboard_store::postgres::drop_scratch_database(&admin, &db).await.ok();
        assert_eq!(on_pg, doc, "PostgreSQL builds the same report, so it renders the same bytes");
    }
}
