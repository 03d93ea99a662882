//! Service-quality metrics on a hand-built history whose numbers were worked out by hand (see the
//! comments): both backends must give exactly these numbers. Also surveys and stored reports.
#![allow(clippy::unwrap_used)]

mod common;
mod golden;

use chrono::{DateTime, Duration, Utc};
use switchboard_domain::quality::{self, Calendars, Dimension, Measure, MetricsInput, Period, PeriodKind};
use switchboard_domain::sla::SlaMetric;
use switchboard_domain::survey::SurveyKind;
use switchboard_store::DynStore;
use switchboard_store::quality::{SurveyCandidate, SurveySettings, SurveyState};

use common::for_each_backend;
use golden::{BERLIN, calendars, contact, conv_id, history, u1, utc};

/// (handed over on wa, deflected on tg).
fn by_bot_channel(input: &MetricsInput, cals: &Calendars, now: DateTime<Utc>) -> (u64, u64) {
    let by = quality::compute_by(input, Dimension::Channel, cals, now);
    let (wa, tg) = (by["wa"].bot.clone().unwrap(), by["tg"].bot.clone().unwrap());
    assert_eq!((wa.conversations, tg.conversations), (2, 2));
    (wa.handed_off + tg.handed_off, tg.deflected + wa.deflected)
}

async fn week_input(store: &DynStore) -> MetricsInput {
    let (from, to) = Period::parse("2026-W47").unwrap().bounds(BERLIN);
    store.metrics_input(from, to).await.unwrap()
}

fn close(a: Option<f64>, b: f64) {
    let a = a.unwrap_or(f64::NAN);
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[tokio::test]
async fn metrics_match_the_hand_computed_week() {
    for_each_backend(|store| async move {
        store.import_history(history()).await.unwrap();
        // Statistics refreshed after the import (PostgreSQL's ANALYZE) change plans, not answers.
        store.finish_import().await.unwrap();
        let input = week_input(&store).await;
        let now = utc("2026-11-30T00:00:00Z");
        let m = quality::compute(&input, &calendars(), now);

        assert_eq!(m.conversations, 5, "A B C D G; E is from last week, F from next week");
        assert_eq!(m.responded, 3);
        close(m.response_rate, 0.6);
        // First response: A 3600 / 3600, B 235800 / 5400, D 1800 / 0.
        assert_eq!(m.first_response.count, 3);
        close(m.first_response.mean_secs, 80_400.0);
        close(m.first_response.median_secs, 3600.0);
        close(m.first_response.business_mean_secs, 3000.0);
        close(m.first_response.business_median_secs, 3600.0);
        // Waits: A 3600 + 7200, B 235800, D 1800; business 3600, 7200, 5400, 0.
        assert_eq!(m.response_time.count, 4);
        close(m.response_time.mean_secs, 62_100.0);
        close(m.response_time.median_secs, 5400.0);
        close(m.response_time.business_mean_secs, 4050.0);
        close(m.response_time.business_median_secs, 4500.0);
        // Resolution: A 18000 / 18000, C 7200 / 7200, D 7200 / 3600.
        assert_eq!(m.resolved, 3);
        close(m.resolution_rate, 0.6);
        close(m.resolution_time.mean_secs, 10_800.0);
        close(m.resolution_time.median_secs, 7200.0);
        close(m.resolution_time.business_mean_secs, 9600.0);
        close(m.resolution_time.business_median_secs, 7200.0);
        assert_eq!(m.fcr, 1, "only D: A's contact came back, C was reopened");
        close(m.fcr_rate, 1.0 / 3.0);
        assert_eq!(m.repeat_contacts, 1);
        close(m.repeat_contact_rate, 0.2);
        assert_eq!(m.escalated, 1);
        close(m.escalation_ratio, 0.2);
        let fr = m.sla.iter().find(|s| s.metric == SlaMetric::FirstResponse).unwrap();
        assert_eq!((fr.met, fr.breached, fr.running), (1, 1, 1));
        close(fr.attainment, 0.5);
        let res = m.sla.iter().find(|s| s.metric == SlaMetric::Resolution).unwrap();
        assert_eq!((res.met, res.breached), (1, 0));
        // CSAT: 5 (A), 2 (D), 4 (E, answered this week).
        assert_eq!((m.csat.answers, m.csat.satisfied), (3, 2));
        close(m.csat.percent, 2.0 / 3.0);
        close(m.csat.average, 11.0 / 3.0);
        assert_eq!(m.csat.distribution, [0, 1, 0, 1, 1]);
        // NPS: 3 (detractor), 10 (promoter).
        assert_eq!((m.nps.answers, m.nps.promoters, m.nps.passives, m.nps.detractors), (2, 1, 0, 1));
        close(m.nps.score, 0.0);
        // Sentiment: A negative + positive, B neutral, C negative, D positive (E, F outside).
        assert_eq!((m.sentiment.negative, m.sentiment.neutral, m.sentiment.positive), (2, 1, 2));
        assert_eq!(m.backlog, 3, "B, E and G wait at the end of the week");
        // Bot: A, C, D, G took part; A, C, G got an article; only C was dealt with by the bot
        // alone (A, D, G were handed over); one "helped" (C) and one "did not help" (A).
        let bot = m.bot.clone().unwrap();
        assert_eq!((bot.conversations, bot.answered, bot.deflected, bot.handed_off), (4, 3, 1, 3));
        close(bot.deflection_rate, 0.25);
        close(bot.handoff_rate, 0.75);
        assert_eq!((bot.helped, bot.not_helped), (1, 1));
        close(bot.helpful_rate, 0.5);

        let cals = calendars();
        let cases = |measure| quality::drill(&input, measure, &cals, now).into_iter().map(|x| x.1).collect::<Vec<_>>();
        assert_eq!(cases(Measure::Fcr), vec![4]);
        assert_eq!(cases(Measure::SlaBreached), vec![2]);
        assert_eq!(cases(Measure::LowCsat), vec![4]);
        assert_eq!(cases(Measure::Detractors), vec![3]);
        assert_eq!(cases(Measure::Backlog), vec![2, 5, 7]);
        assert_eq!(cases(Measure::Unanswered), vec![3, 7]);
        assert_eq!(cases(Measure::Negative), vec![1, 3]);
        assert_eq!(cases(Measure::BotDeflected), vec![3]);
        assert_eq!(cases(Measure::BotHandedOff), vec![1, 4, 7]);
        assert_eq!(by_bot_channel(&input, &cals, now), (3, 1), "wa: A and G handed over; tg: C deflected");

        let by_channel = quality::compute_by(&input, Dimension::Channel, &cals, now);
        assert_eq!(by_channel.keys().collect::<Vec<_>>(), vec!["tg", "wa"]);
        let tg = &by_channel["tg"];
        assert_eq!((tg.conversations, tg.resolved, tg.fcr, tg.nps.answers), (2, 2, 1, 2));
        let wa = &by_channel["wa"];
        assert_eq!((wa.conversations, wa.csat.answers, wa.backlog), (3, 2, 3));
        let by_agent = quality::compute_by(&input, Dimension::Agent, &cals, now);
        let agent1 = &by_agent[&u1().0.to_string()];
        assert_eq!((agent1.conversations, agent1.csat.answers, agent1.csat.satisfied), (2, 2, 2));
        let by_lang = quality::compute_by(&input, Dimension::Language, &cals, now);
        assert_eq!(by_lang.keys().collect::<Vec<_>>(), vec!["-", "de", "en", "zh"]);
        assert_eq!(by_lang["en"].conversations, 2);
        let by_prio = quality::compute_by(&input, Dimension::Priority, &cals, now);
        assert_eq!(by_prio["urgent"].conversations, 1);

        let days = quality::trend(&input, &Period::parse("2026-W47").unwrap(), PeriodKind::Day, BERLIN, &cals, now);
        let counts: Vec<u64> = days.iter().map(|(_, m)| m.conversations).collect();
        assert_eq!(counts, vec![1, 0, 1, 1, 1, 0, 1], "Mon A, Wed C, Thu D, Fri B, Sun G");

        // The next week holds F only; its backlog still has B, E, F, G.
        let (from, to) = Period::parse("2026-W48").unwrap().bounds(BERLIN);
        let next = store.metrics_input(from, to).await.unwrap();
        let m2 = quality::compute(&next, &cals, now);
        assert_eq!((m2.conversations, m2.backlog), (1, 4));
        assert_eq!(store.count_conversations(from, to).await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn surveys_are_asked_once_and_answered_once() {
    for_each_backend(|store| async move {
        let mut h = history();
        h.truncate(1);
        h[0].answers.clear();
        // Resolved "now", so the settings (saved just before) apply.
        let now = Utc::now();
        store
            .put_survey_settings(&SurveySettings {
                channel: "wa".into(),
                csat: true,
                nps: false,
                delay_minutes: 10,
                min_days_between: 30,
            })
            .await
            .unwrap();
        h[0].resolved_at = Some(now + Duration::seconds(1));
        store.import_history(h.clone()).await.unwrap();
        let bad =
            SurveySettings { channel: "wa".into(), csat: true, nps: true, delay_minutes: -1, min_days_between: 1 };
        assert!(store.put_survey_settings(&bad).await.is_err());

        assert!(store.due_surveys(now + Duration::minutes(5), 10).await.unwrap().is_empty(), "before the delay");
        let due = store.due_surveys(now + Duration::minutes(11), 10).await.unwrap();
        assert_eq!(
            due,
            vec![SurveyCandidate { conversation_id: conv_id(1), kind: SurveyKind::Csat, min_days_between: 30 }]
        );
        let s = store.create_survey(&due[0], now).await.unwrap().unwrap();
        assert_eq!((s.state, s.agent_id, s.team.as_deref()), (SurveyState::Pending, Some(u1()), Some("billing")));
        assert!(store.create_survey(&due[0], now).await.unwrap().is_none(), "at most once per conversation");
        assert!(store.due_surveys(now + Duration::minutes(11), 10).await.unwrap().is_empty());
        assert_eq!(store.pending_surveys(10).await.unwrap().len(), 1);
        store.mark_survey_sent(s.id, switchboard_domain::MessageId::new(), now).await.unwrap();
        assert!(store.pending_surveys(10).await.unwrap().is_empty());

        // Another resolved conversation of the same contact within 30 days is skipped.
        let mut other = history().remove(2);
        other.id = conv_id(9);
        other.case_number = 9;
        other.channel = "wa".into();
        other.answers.clear();
        other.resolved_at = Some(now + Duration::seconds(2));
        store.import_history(vec![other]).await.unwrap();
        let due = store.due_surveys(now + Duration::minutes(11), 10).await.unwrap();
        assert_eq!(due.len(), 1);
        let skipped = store.create_survey(&due[0], now).await.unwrap().unwrap();
        assert_eq!(skipped.state, SurveyState::Skipped);

        assert!(store.answer_survey(s.id, 9, "", "text", None, now).await.is_err(), "CSAT is 1-5");
        let answered = store.answer_survey(s.id, 4, " quick and kind ", "button", None, now).await.unwrap();
        assert_eq!((answered.score, answered.comment.as_deref()), (Some(4), Some("quick and kind")));
        let again = store.answer_survey(s.id, 1, "", "button", None, now).await.unwrap();
        assert_eq!(again.score, Some(4), "the first answer wins");
        let todo = store.comments_without_sentiment(10).await.unwrap();
        assert_eq!(todo.len(), 1);
        store.set_comment_sentiment(s.id, "positive").await.unwrap();
        assert!(store.comments_without_sentiment(10).await.unwrap().is_empty());
        let history = store.contact_surveys(contact(1), 10).await.unwrap();
        assert_eq!(history.len(), 1, "skipped surveys are not shown");
        assert_eq!(history[0].comment_sentiment.as_deref(), Some("positive"));
        assert_eq!(store.quality_secret("survey").await.unwrap(), store.quality_secret("survey").await.unwrap());
        assert_eq!(store.quality_secret("survey").await.unwrap().len(), 32);
    })
    .await;
}

#[tokio::test]
async fn reports_are_claimed_once_and_kept() {
    for_each_backend(|store| async move {
        let now = Utc::now();
        assert!(store.claim_report("2026-W47", "week", now, now + Duration::minutes(5)).await.unwrap());
        assert!(!store.claim_report("2026-W47", "week", now, now + Duration::minutes(5)).await.unwrap(), "leased");
        let later = now + Duration::minutes(6);
        assert!(
            store.claim_report("2026-W47", "week", later, later + Duration::minutes(5)).await.unwrap(),
            "lease ran out"
        );
        let doc = serde_json::json!({"period": "2026-W47", "conversations": 5});
        store.save_report("2026-W47", "week", &doc, later).await.unwrap();
        assert!(
            !store
                .claim_report("2026-W47", "week", later + Duration::hours(1), later + Duration::hours(2))
                .await
                .unwrap()
        );
        store.mark_report_emailed("2026-W47", later).await.unwrap();
        let list = store.list_reports().await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!((list[0].state.as_str(), list[0].document.is_none()), ("done", true));
        let r = store.get_report("2026-W47").await.unwrap().unwrap();
        assert_eq!(r.document, Some(doc));
        assert!(r.emailed_at.is_some());
        assert!(store.get_report("2026-W01").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn rollup_rows_cursor_changes_and_backlog() {
    use switchboard_store::rollup::RollupRow;
    for_each_backend(|store| async move {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 16).unwrap();
        let row =
            |dim: &str, key: &str, data: &str| RollupRow { day, dim: dim.into(), key: key.into(), data: data.into() };
        let at = utc("2026-11-20T00:00:00Z");
        store
            .put_rollup_day(
                "Europe/Berlin",
                day,
                vec![row("", "", "{}"), row("channel", "wa", "{\"a\":1}")],
                at,
                Some(at + Duration::hours(2)),
            )
            .await
            .unwrap();
        let due = |at| store.rollup_due("Europe/Berlin", at, 10);
        assert!(due(at + Duration::hours(2)).await.unwrap().is_empty(), "not before valid_until has passed");
        assert_eq!(due(at + Duration::hours(3)).await.unwrap(), vec![day]);
        assert!(store.rollup_due("UTC", at + Duration::hours(3), 10).await.unwrap().is_empty());
        let other = day + Duration::days(1);
        store.put_rollup_day("Europe/Berlin", other, vec![row("", "", "{}")], at, Some(at)).await.unwrap();
        assert_eq!(due(at + Duration::hours(3)).await.unwrap(), vec![other, day], "the longest overdue first");
        assert_eq!(store.rollup_due("Europe/Berlin", at + Duration::hours(3), 1).await.unwrap(), vec![other]);
        store.put_rollup_day("Europe/Berlin", other, vec![row("", "", "{}")], at, None).await.unwrap();
        assert_eq!(due(at + Duration::days(999)).await.unwrap(), vec![day], "without valid_until, never due");
        let all = store.rollup_rows("Europe/Berlin", day, day, None).await.unwrap();
        assert_eq!(all, vec![row("", "", "{}"), row("channel", "wa", "{\"a\":1}")]);
        let whole = store.rollup_rows("Europe/Berlin", day, day, Some(&[""])).await.unwrap();
        assert_eq!(whole, vec![row("", "", "{}")], "only the dimensions asked for");
        let chan = store.rollup_rows("Europe/Berlin", day, day, Some(&["channel", "team"])).await.unwrap();
        assert_eq!(chan, vec![row("channel", "wa", "{\"a\":1}")]);
        assert!(store.rollup_rows("Europe/Berlin", day, day, Some(&[])).await.unwrap().is_empty());
        store.put_rollup_day("Europe/Berlin", day, vec![row("", "", "{\"b\":2}")], at, None).await.unwrap();
        let rows = store.rollup_rows("Europe/Berlin", day, day, None).await.unwrap();
        assert_eq!(rows, vec![row("", "", "{\"b\":2}")], "a day's rows are replaced as a whole");
        assert!(store.rollup_rows("UTC", day, day, None).await.unwrap().is_empty(), "per time zone");
        assert!(due(at + Duration::days(999)).await.unwrap().is_empty(), "replaced without valid_until");
        assert_eq!(store.rollup_days("Europe/Berlin", day - Duration::days(3), day).await.unwrap(), vec![day]);

        assert_eq!(store.rollup_cursor("UTC").await.unwrap(), None);
        store.set_rollup_cursor("UTC", at).await.unwrap();
        store.set_rollup_cursor("UTC", at + Duration::hours(1)).await.unwrap();
        assert_eq!(store.rollup_cursor("UTC").await.unwrap(), Some(at + Duration::hours(1)));

        assert_eq!(store.first_conversation_at().await.unwrap(), None);
        store.import_history(history()).await.unwrap();
        assert_eq!(store.first_conversation_at().await.unwrap(), Some(utc("2026-11-13T10:00:00Z")));
        // Everything imported counts as changed since before the history; C's NPS answer too.
        let changed = store.changed_since(utc("2026-11-19T08:00:00Z")).await.unwrap();
        assert!(changed.contains(&utc("2026-11-19T09:00:00Z")), "C's NPS answer");
        assert!(changed.contains(&utc("2026-11-20T15:00:00Z")), "B, updated on the 23rd");
        assert!(!changed.contains(&utc("2026-11-16T08:00:00Z")), "A: nothing since the 17th");

        let cases = |v: Vec<switchboard_domain::quality::BacklogRecord>| {
            v.into_iter().map(|b| b.case_number).collect::<Vec<_>>()
        };
        let late = store.backlog_at(utc("2026-11-22T23:00:00Z"), true).await.unwrap();
        assert!(late.iter().any(|b| b.attrs.language.is_some()), "with the first triage's language");
        assert_eq!(cases(late), vec![2, 5, 7]);
        let plain = store.backlog_at(utc("2026-11-22T23:00:00Z"), false).await.unwrap();
        assert!(plain.iter().all(|b| b.attrs.language.is_none() && b.attrs.intent.is_none()));

        assert_eq!(cases(plain), vec![2, 5, 7]);
        assert_eq!(store.backlog_count_at(utc("2026-11-22T23:00:00Z")).await.unwrap(), 3);
        assert_eq!(
            cases(store.backlog_at(utc("2026-11-16T12:00:00Z"), true).await.unwrap()),
            vec![1, 5],
            "A until 13:00"
        );
        assert_eq!(store.backlog_count_at(utc("2026-11-16T12:00:00Z")).await.unwrap(), 2);
        assert_eq!(store.backlog_count_at(utc("2026-01-01T00:00:00Z")).await.unwrap(), 0);
        let (from, to) = Period::parse("2026-W47").unwrap().bounds(BERLIN);
        let cohort = store.cohort_input(from, to).await.unwrap();
        assert!(cohort.backlog.is_empty());
        assert_eq!(cohort.conversations.len(), 5);
    })
    .await;
}
