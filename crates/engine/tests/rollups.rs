//! Daily rollups give the same figures as the raw computation: a generated two-month history
//! (business-hours teams, SLA clocks, surveys, sentiment, the bot, repeat contacts, a Berlin
//! time zone) is rolled up by the job, then the month's and a week's report built from the
//! rollups is compared with `quality::compute` over the raw rows — counts, rates and means
//! exactly, medians within the histogram's 0.5 %. A later change to an old conversation is
//! picked up by the next round, and a day whose running SLA clock breaches with time alone by
//! the round after the breach. SQLite, and PostgreSQL when `TEST_DATABASE_URL` is set.
#![allow(clippy::unwrap_used, clippy::manual_is_multiple_of)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use switchboard_domain::calendar::{CalendarSpec, DayHours, OpenInterval};
use switchboard_domain::quality::{self, Dimension, DurationStats, Metrics, Period};
use switchboard_domain::routing::AssignmentPolicy;
use switchboard_domain::sla::{SlaClock, SlaMetric, SlaTarget, TimeBasis, TrackedClock};
use switchboard_domain::survey::SurveyKind;
use switchboard_domain::{ContactId, ConversationId, ConversationPatch, Direction, Priority, Status, UserId};
use switchboard_engine::{report, rollup};
use switchboard_store::kb::BotOutcomeKind;
use switchboard_store::quality::{HistoryConversation, HistoryMessage};
use switchboard_store::routing::{RoutingState, TeamInput};
use switchboard_store::{DynStore, StoreOptions};

const TZ: chrono_tz::Tz = chrono_tz::Europe::Berlin;

fn at(month_start: DateTime<Utc>, secs: u64) -> DateTime<Utc> {
    month_start + Duration::seconds(secs as i64)
}

/// Conversation `i` of a deterministic pseudo-random history over the 61 days from `start`.
fn conversation(i: u64, start: DateTime<Utc>, agents: &[UserId]) -> HistoryConversation {
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i << 7);
    let created = at(start, h % (61 * 86_400));
    let agent = agents[(h >> 40) as usize % agents.len()];
    let reply = created + Duration::seconds(((h >> 20) % 20_000) as i64 + 30);
    let answered = (h >> 13) % 7 != 0;
    let resolved = answered && (h >> 33) % 10 < 7;
    let end = reply + Duration::minutes(((h >> 44) % 600) as i64);
    let sentiments = ["negative", "neutral", "positive"];
    let mut messages = vec![HistoryMessage {
        direction: Direction::Inbound,
        author_id: None,
        text: "help".into(),
        at: created,
        triage: Some((
            ["en", "zh", "de"][(h >> 8) as usize % 3].into(),
            ["refund", "delivery"][(h >> 9) as usize % 2].into(),
            sentiments[(h >> 12) as usize % 3].into(),
        )),
    }];
    if answered {
        messages.push(HistoryMessage {
            direction: Direction::Outbound,
            author_id: Some(agent),
            text: "on it".into(),
            at: reply,
            triage: None,
        });
        if (h >> 16) % 3 == 0 {
            let again = reply + Duration::minutes(((h >> 50) % 300) as i64 + 1);
            messages.push(HistoryMessage {
                direction: Direction::Inbound,
                author_id: None,
                text: "and?".into(),
                at: again,
                triage: Some(("en".into(), "refund".into(), sentiments[(h >> 17) as usize % 3].into())),
            });
            messages.push(HistoryMessage {
                direction: Direction::Outbound,
                author_id: Some(agent),
                text: "done".into(),
                at: again + Duration::minutes(((h >> 52) % 90) as i64),
                triage: None,
            });
        }
    }
    let mut clock = SlaClock::start(
        SlaMetric::FirstResponse,
        SlaTarget { minutes: 60, basis: if (h >> 5) % 2 == 0 { TimeBasis::Business } else { TimeBasis::Calendar } },
        created,
    );
    if answered {
        clock.stop(&switchboard_domain::calendar::BusinessCalendar::around_the_clock(), reply);
    }
    let team = ["billing", "support", "none"][(h >> 28) as usize % 3];
    HistoryConversation {
        id: ConversationId::new(),
        case_number: i as i64 + 1,
        channel: ["wa", "tg", "x"][(h >> 24) as usize % 3].into(),
        contact_id: ContactId(uuid::Uuid::from_u128(0xC000 + u128::from(h % 150))),
        status: if resolved {
            Status::Resolved
        } else if (h >> 3) % 5 == 0 {
            Status::Closed
        } else {
            Status::Open
        },
        priority: [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent][(h >> 30) as usize % 4],
        team: (team != "none").then(|| team.into()),
        assignee_id: ((h >> 36) % 6 != 0).then_some(agent),
        created_at: created,
        resolved_at: resolved.then_some(end),
        reopen_count: ((h >> 45) % 9 == 0) as i32,
        repeat_of: None,
        messages,
        escalations: if (h >> 46) % 8 == 0 { vec![created + Duration::minutes(70)] } else { vec![] },
        clocks: vec![TrackedClock { cycle: 0, clock }],
        answers: match (resolved, (h >> 48) % 4) {
            (true, 0) => vec![(SurveyKind::Csat, ((h >> 54) % 5) as i32 + 1, end + Duration::hours(2))],
            (true, 1) => vec![(SurveyKind::Nps, ((h >> 54) % 11) as i32, end + Duration::hours(26))],
            _ => vec![],
        },
        bot_outcomes: match (h >> 58) % 6 {
            0 => vec![(BotOutcomeKind::Answered, created), (BotOutcomeKind::Helped, created + Duration::minutes(1))],
            1 => vec![
                (BotOutcomeKind::Answered, created),
                (BotOutcomeKind::NotHelped, created),
                (BotOutcomeKind::HandedOff, created),
            ],
            2 => vec![(BotOutcomeKind::HandedOff, created)],
            _ => vec![],
        },
    }
}

fn durations_close(a: &DurationStats, b: &DurationStats, what: &str) {
    assert_eq!(a.count, b.count, "{what} count");
    assert_eq!(a.mean_secs, b.mean_secs, "{what} mean");
    assert_eq!(a.business_mean_secs, b.business_mean_secs, "{what} business mean");
    for (x, y) in [(a.median_secs, b.median_secs), (a.business_median_secs, b.business_median_secs)] {
        match (x, y) {
            (Some(x), Some(y)) => assert!((x - y).abs() <= 0.005 * (1.0 + y), "{what} median {x} vs {y}"),
            _ => assert_eq!(x, y, "{what} median"),
        }
    }
}

/// Everything equal, medians within the histogram's precision.
fn same(rolled: &Metrics, raw: &Metrics, what: &str) {
    durations_close(&rolled.first_response, &raw.first_response, &format!("{what} first response"));
    durations_close(&rolled.response_time, &raw.response_time, &format!("{what} response time"));
    durations_close(&rolled.resolution_time, &raw.resolution_time, &format!("{what} resolution"));
    let strip = |m: &Metrics| Metrics {
        first_response: DurationStats::default(),
        response_time: DurationStats::default(),
        resolution_time: DurationStats::default(),
        ..m.clone()
    };
    assert_eq!(strip(rolled), strip(raw), "{what}");
}

async fn scenario(store: DynStore) {
    store
        .put_calendar(
            "office",
            &CalendarSpec {
                time_zone: "Europe/Berlin".into(),
                always_open: false,
                weekly: ["mon", "tue", "wed", "thu", "fri"]
                    .iter()
                    .map(|d| DayHours {
                        day: (*d).into(),
                        intervals: vec![OpenInterval { start: "09:00".into(), end: "17:00".into() }],
                    })
                    .collect(),
                special_dates: vec![],
            },
        )
        .await
        .unwrap();
    for (team, calendar) in [("billing", Some("office")), ("support", None)] {
        store
            .create_team(&TeamInput {
                name: team.into(),
                description: String::new(),
                assignment_policy: AssignmentPolicy::Manual,
                calendar: calendar.map(Into::into),
            })
            .await
            .unwrap();
    }
    let month = Period::parse("2026-09").unwrap();
    let (start, _) = Period::parse("2026-08").unwrap().bounds(TZ);
    let agents: Vec<UserId> = (0..4).map(|_| UserId(uuid::Uuid::now_v7())).collect();
    let history: Vec<HistoryConversation> = (0..600).map(|i| conversation(i, start, &agents)).collect();
    let first_ids: Vec<ConversationId> =
        history.iter().filter(|c| c.status == Status::Open).map(|c| c.id).take(3).collect();
    store.import_history(history).await.unwrap();

    let now = Utc::now();
    let written = rollup::refresh(&store, TZ, now).await.unwrap();
    assert!(written >= 61, "every day from August on is rolled up: {written}");
    let cals = report::calendars(&store).await.unwrap();
    assert_eq!(cals.by_team.len(), 1, "billing works office hours");

    let check = |store: DynStore, cals: quality::Calendars| async move {
        for p in [month, Period::parse("2026-W38").unwrap(), Period::parse("2026-08").unwrap()] {
            let days = rollup::period_days(&store, &p, TZ, &cals, now, rollup::Want::ALL).await.unwrap();
            assert_eq!(days.from_rollups, p.split(quality::PeriodKind::Day).len(), "{p}: every day from the rollups");
            let doc = report::build(&store, &p, TZ, &report::Targets::default(), now).await.unwrap();
            let (from, to) = p.bounds(TZ);
            let raw = store.metrics_input(from, to).await.unwrap();
            same(&doc.current, &quality::compute(&raw, &cals, now), &p.label());
            assert!(doc.current.conversations > 50 && doc.current.bot.as_ref().unwrap().conversations > 0);
            for (dim, rolled) in [
                (Dimension::Channel, &doc.by_channel),
                (Dimension::Team, &doc.by_team),
                (Dimension::Agent, &doc.by_agent),
            ] {
                let direct: BTreeMap<String, Metrics> = quality::compute_by(&raw, dim, &cals, now);
                assert_eq!(rolled.keys().collect::<Vec<_>>(), direct.keys().collect::<Vec<_>>(), "{p} {dim:?}");
                for (k, m) in rolled {
                    same(m, &direct[k], &format!("{p} {dim:?} {k}"));
                }
            }
            for dim in [Dimension::Intent, Dimension::Language, Dimension::Priority] {
                let rolled = rollup::slice_metrics(&store, &p, TZ, dim, now).await.unwrap();
                let direct = quality::compute_by(&raw, dim, &cals, now);
                assert_eq!(rolled.len(), direct.len(), "{p} {dim:?}");
                for (k, m) in &rolled {
                    same(m, &direct[k], &format!("{p} {dim:?} {k}"));
                }
            }
            let step =
                if p.kind == quality::PeriodKind::Month { quality::PeriodKind::Week } else { quality::PeriodKind::Day };
            let trend = quality::trend(&raw, &p, step, TZ, &cals, now);
            assert_eq!(doc.trend.len(), trend.len());
            for ((label, rolled), (_, direct)) in doc.trend.iter().zip(&trend) {
                same(rolled, direct, &format!("{p} {label}"));
            }
            let expected = report::review(&raw, &cals, now);
            assert_eq!(doc.review_total, expected.len() as u64, "{p} review");
            let listed = expected.len().min(report::REVIEW_LIMIT);
            assert_eq!(doc.review, expected[..listed], "{p}: the worst cases of the review");
            let html = report::to_html(&doc, switchboard_engine::report_text::ReportLocale::En);
            assert_eq!(html.contains(&format!("worst of {} cases", expected.len())), listed < expected.len(), "{p}");
            if p == month {
                assert!(expected.len() > report::REVIEW_LIMIT, "the month's review is longer than the list");
            }
        }
    };
    check(store.clone(), cals.clone()).await;

    // Old conversations change: resolved, reassigned. The next round sees it.
    for id in &first_ids {
        let patch = ConversationPatch {
            status: Some(Status::Resolved),
            priority: Some(Priority::Urgent),
            ..Default::default()
        };
        store.update_conversation(*id, &patch, None).await.unwrap();
    }
    assert!(rollup::refresh(&store, TZ, Utc::now()).await.unwrap() >= 1);
    check(store.clone(), cals.clone()).await;

    // Time alone: a conversation of three days ago whose 5-day resolution clock still runs. Its
    // day is due again at once while the routing job has not saved the clocks of its latest
    // change, then stored as running and due when the clock breaches; the round after that
    // stores the breach. Nothing else marks that day changed.
    let t0 = Utc::now();
    let created = t0 - Duration::days(3);
    let mut late = conversation(600, start, &agents);
    late.created_at = created;
    late.status = Status::Open;
    late.resolved_at = None;
    late.answers = vec![];
    late.escalations = vec![];
    late.messages.truncate(1);
    late.messages[0].at = created;
    let clocks = vec![TrackedClock {
        cycle: 0,
        clock: SlaClock::start(
            SlaMetric::Resolution,
            SlaTarget { minutes: 5 * 1440, basis: TimeBasis::Calendar },
            created,
        ),
    }];
    late.clocks = clocks.clone();
    let late_id = late.id;
    store.import_history(vec![late]).await.unwrap();
    let changed = store
        .update_conversation(late_id, &ConversationPatch { priority: Some(Priority::High), ..Default::default() }, None)
        .await
        .unwrap();
    rollup::refresh(&store, TZ, t0).await.unwrap();
    let day = created.with_timezone(&TZ).date_naive();
    let due = |at| {
        let store = store.clone();
        async move { store.rollup_due(TZ.name(), at, 10).await.unwrap() }
    };
    // (The days of the conversations updated above are due too: no routing job runs here.)
    assert!(due(t0 + Duration::seconds(1)).await.contains(&day), "the routing job has not saved its clocks yet");
    store
        .save_routing_state(
            &RoutingState {
                conversation_id: late_id,
                synced_at: Some(changed.updated_at),
                seen_message_at: None,
                policy: None,
                clocks,
                auto_resolve_hours: None,
            },
            &[],
        )
        .await
        .unwrap();
    // The next round reads the day again (due), and the update is behind the cursor now.
    rollup::refresh(&store, TZ, t0 + Duration::hours(1)).await.unwrap();
    let resolution_sla = |now| {
        let (store, cals) = (store.clone(), cals.clone());
        async move {
            let p = Period::containing(quality::PeriodKind::Day, day);
            let days = rollup::period_days(&store, &p, TZ, &cals, now, rollup::Want::TOTALS).await.unwrap();
            assert_eq!(days.from_rollups, 1, "{day} is stored");
            days.days[&day].all.sla.get("resolution").copied()
        }
    };
    assert_eq!(resolution_sla(t0).await, Some([0, 0, 1]), "running");
    let breach = created + Duration::days(5);
    assert!(!due(breach - Duration::seconds(1)).await.contains(&day));
    assert!(due(breach + Duration::seconds(1)).await.contains(&day));
    let after = breach + Duration::hours(1);
    rollup::refresh(&store, TZ, after).await.unwrap();
    assert_eq!(resolution_sla(after).await, Some([0, 1, 0]), "breached, stored by the round after the breach");
    assert!(!due(after + Duration::days(365)).await.contains(&day));
}

#[tokio::test]
async fn rollups_equal_the_raw_computation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let store = switchboard_store::open(path.to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    scenario(store).await;
    if let Ok(admin) = std::env::var("TEST_DATABASE_URL") {
        let (url, db) = switchboard_store::postgres::create_scratch_database(&admin, "sb_rollups").await.unwrap();
        let store = switchboard_store::open(&url, &StoreOptions::default()).await.unwrap();
        scenario(store).await;
        switchboard_store::postgres::drop_scratch_database(&admin, &db).await.ok();
    }
}
