//! Service-quality metrics on a hand-built history whose numbers were worked out by hand (see the
//! comments): both backends must give exactly these numbers. Also surveys and stored reports.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use switchboard_domain::calendar::{BusinessCalendar, CalendarSpec, DayHours, OpenInterval};
use switchboard_domain::quality::{self, Calendars, Dimension, Measure, MetricsInput, Period, PeriodKind};
use switchboard_domain::sla::{SlaClock, SlaMetric, SlaTarget, TimeBasis, TrackedClock};
use switchboard_domain::survey::SurveyKind;
use switchboard_domain::{ContactId, ConversationId, Direction, Priority, Status, UserId};
use switchboard_store::DynStore;
use switchboard_store::kb::BotOutcomeKind;
use switchboard_store::quality::{HistoryConversation, HistoryMessage, SurveyCandidate, SurveySettings, SurveyState};
use uuid::Uuid;

use common::for_each_backend;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const BERLIN: Tz = chrono_tz::Europe::Berlin;

fn u1() -> UserId {
    UserId(Uuid::from_u128(0x01))
}
fn u2() -> UserId {
    UserId(Uuid::from_u128(0x02))
}
fn contact(n: u128) -> ContactId {
    ContactId(Uuid::from_u128(0x100 + n))
}
fn conv_id(n: u128) -> ConversationId {
    ConversationId(Uuid::from_u128(0x200 + n))
}

fn customer(at: &str, triage: Option<(&str, &str, &str)>) -> HistoryMessage {
    HistoryMessage {
        direction: Direction::Inbound,
        author_id: None,
        text: "customer".into(),
        at: utc(at),
        triage: triage.map(|(l, i, s)| (l.into(), i.into(), s.into())),
    }
}

fn agent(at: &str, who: UserId) -> HistoryMessage {
    HistoryMessage {
        direction: Direction::Outbound,
        author_id: Some(who),
        text: "agent".into(),
        at: utc(at),
        triage: None,
    }
}

fn note(at: &str, who: UserId) -> HistoryMessage {
    HistoryMessage { direction: Direction::Note, author_id: Some(who), text: "note".into(), at: utc(at), triage: None }
}

fn automatic(at: &str) -> HistoryMessage {
    HistoryMessage {
        direction: Direction::Outbound,
        author_id: Some(switchboard_store::routing::AUTOMATION_USER),
        text: "ack".into(),
        at: utc(at),
        triage: None,
    }
}

fn clock(
    metric: SlaMetric,
    minutes: u32,
    basis: TimeBasis,
    start: &str,
    consumed: i64,
    stop: Option<&str>,
) -> TrackedClock {
    let mut c = SlaClock::start(metric, SlaTarget { minutes, basis }, utc(start));
    c.consumed_secs = consumed;
    if let Some(s) = stop {
        c.running_since = None;
        c.stopped_at = Some(utc(s));
    }
    TrackedClock { cycle: 0, clock: c }
}

#[allow(clippy::too_many_arguments)]
fn base(
    n: u128,
    channel: &str,
    team: Option<&str>,
    agent: Option<UserId>,
    priority: Priority,
    contact_n: u128,
    created: &str,
    status: Status,
    resolved: Option<&str>,
) -> HistoryConversation {
    HistoryConversation {
        id: conv_id(n),
        case_number: n as i64,
        channel: channel.into(),
        contact_id: contact(contact_n),
        status,
        priority,
        team: team.map(Into::into),
        assignee_id: agent,
        created_at: utc(created),
        resolved_at: resolved.map(utc),
        reopen_count: 0,
        repeat_of: None,
        messages: Vec::new(),
        escalations: Vec::new(),
        clocks: Vec::new(),
        answers: Vec::new(),
        bot_outcomes: Vec::new(),
    }
}

/// The week 2026-W47 in Europe/Berlin (UTC+1): 2026-11-15T23:00Z .. 2026-11-22T23:00Z.
/// Team `billing` works Mon–Fri 09:00–17:00 Berlin (08:00–16:00 UTC); other conversations count
/// around the clock.
fn history() -> Vec<HistoryConversation> {
    // #1 A: Mon 08:00Z, replies 09:00Z (FRT 3600 s, business 3600) and 12:00Z after a customer
    // message at 10:00Z (wait 7200 / 7200); resolved 13:00Z (18000 / 18000). Its contact writes
    // again two days later (#3), so it is no first-contact resolution. CSAT 5.
    let mut a = base(
        1,
        "wa",
        Some("billing"),
        Some(u1()),
        Priority::High,
        1,
        "2026-11-16T08:00:00Z",
        Status::Resolved,
        Some("2026-11-16T13:00:00Z"),
    );
    a.messages = vec![
        customer("2026-11-16T08:00:00Z", Some(("en", "refund", "negative"))),
        automatic("2026-11-16T08:00:01Z"),
        note("2026-11-16T08:10:00Z", u1()),
        agent("2026-11-16T09:00:00Z", u1()),
        customer("2026-11-16T10:00:00Z", Some(("en", "refund", "positive"))),
        customer("2026-11-16T10:30:00Z", None),
        agent("2026-11-16T12:00:00Z", u1()),
    ];
    a.clocks = vec![clock(
        SlaMetric::FirstResponse,
        60,
        TimeBasis::Business,
        "2026-11-16T08:00:00Z",
        3600,
        Some("2026-11-16T09:00:00Z"),
    )];
    a.answers = vec![(SurveyKind::Csat, 5, utc("2026-11-17T10:00:00Z"))];
    // The FAQ bot answered at once (its message is no agent reply: the first response stays
    // 09:00), the customer said it did not help, and it handed over.
    a.messages.insert(
        1,
        HistoryMessage {
            direction: Direction::Outbound,
            author_id: Some(switchboard_store::kb::BOT_USER),
            text: "🤖 Automated answer".into(),
            at: utc("2026-11-16T08:00:02Z"),
            triage: None,
        },
    );
    a.bot_outcomes = vec![
        (BotOutcomeKind::Answered, utc("2026-11-16T08:00:02Z")),
        (BotOutcomeKind::NotHelped, utc("2026-11-16T08:05:00Z")),
        (BotOutcomeKind::HandedOff, utc("2026-11-16T08:05:00Z")),
    ];

    // #2 B: Fri 15:00Z (16:00 Berlin), first reply Mon 23rd 08:30Z: 235800 s around the clock,
    // 5400 s of business hours (Fri 16–17, Mon 09–09:30). Open; escalated; first-response SLA breached.
    let mut b =
        base(2, "wa", Some("billing"), Some(u2()), Priority::Normal, 2, "2026-11-20T15:00:00Z", Status::Open, None);
    b.messages = vec![
        customer("2026-11-20T15:00:00Z", Some(("zh", "delivery", "neutral"))),
        agent("2026-11-23T08:30:00Z", u2()),
    ];
    b.escalations = vec![utc("2026-11-20T15:45:00Z")];
    b.clocks = vec![clock(
        SlaMetric::FirstResponse,
        60,
        TimeBasis::Business,
        "2026-11-20T15:00:00Z",
        5400,
        Some("2026-11-23T08:30:00Z"),
    )];

    // #3 C: the contact of #1 again (a repeat contact), Wed 12:00Z, no reply, resolved 14:00Z
    // (7200 s, no team: around the clock), reopened once. NPS 3 (detractor).
    let mut c = base(
        3,
        "tg",
        None,
        Some(u1()),
        Priority::Low,
        1,
        "2026-11-18T12:00:00Z",
        Status::Resolved,
        Some("2026-11-18T14:00:00Z"),
    );
    c.reopen_count = 1;
    c.repeat_of = Some(conv_id(1));
    c.messages = vec![customer("2026-11-18T12:00:00Z", Some(("en", "refund", "negative")))];
    c.answers = vec![(SurveyKind::Nps, 3, utc("2026-11-19T09:00:00Z"))];
    // The bot answered, the customer said it helped, and no person ever replied: deflected.
    c.bot_outcomes = vec![
        (BotOutcomeKind::Answered, utc("2026-11-18T12:00:05Z")),
        (BotOutcomeKind::Helped, utc("2026-11-18T12:10:00Z")),
    ];

    // #4 D: Thu 07:00Z (before opening), reply 07:30Z (1800 s, business 0), closed at 09:00Z
    // (7200 s; business 08:00–09:00Z = 3600). First-contact resolution. CSAT 2, NPS 10.
    let mut d = base(
        4,
        "tg",
        Some("billing"),
        Some(u2()),
        Priority::Normal,
        3,
        "2026-11-19T07:00:00Z",
        Status::Closed,
        Some("2026-11-19T09:00:00Z"),
    );
    d.messages = vec![
        customer("2026-11-19T07:00:00Z", Some(("de", "billing", "positive"))),
        agent("2026-11-19T07:30:00Z", u2()),
    ];
    d.clocks = vec![clock(
        SlaMetric::Resolution,
        240,
        TimeBasis::Calendar,
        "2026-11-19T07:00:00Z",
        7200,
        Some("2026-11-19T09:00:00Z"),
    )];
    d.answers =
        vec![(SurveyKind::Csat, 2, utc("2026-11-19T10:00:00Z")), (SurveyKind::Nps, 10, utc("2026-11-19T10:05:00Z"))];
    // The bot handed over at once (an angry customer).
    d.bot_outcomes = vec![(BotOutcomeKind::HandedOff, utc("2026-11-19T07:00:05Z"))];

    // #5 E: from the week before, still open (backlog); its CSAT 4 arrives in this week.
    let mut e =
        base(5, "wa", Some("support"), Some(u1()), Priority::Normal, 4, "2026-11-13T10:00:00Z", Status::Open, None);
    e.messages = vec![customer("2026-11-13T10:00:00Z", Some(("en", "other", "negative")))];
    e.answers = vec![(SurveyKind::Csat, 4, utc("2026-11-21T10:00:00Z"))];

    // #6 F: Sun 22nd 23:30Z is Monday 00:30 in Berlin: next week.
    let mut f = base(6, "wa", None, None, Priority::Normal, 5, "2026-11-22T23:30:00Z", Status::Open, None);
    f.messages = vec![customer("2026-11-22T23:30:00Z", Some(("en", "other", "negative")))];

    // #7 G: Sun 22nd 22:30Z is Sunday 23:30 in Berlin: this week. Open, unanswered, its
    // first-response clock still running within a one-year target.
    let mut g = base(7, "wa", None, None, Priority::Urgent, 5, "2026-11-22T22:30:00Z", Status::Open, None);
    g.messages = vec![customer("2026-11-22T22:30:00Z", None)];
    g.clocks = vec![clock(SlaMetric::FirstResponse, 525_600, TimeBasis::Calendar, "2026-11-22T22:30:00Z", 0, None)];
    // The bot answered and then handed over: not deflected, though no person replied yet.
    g.bot_outcomes = vec![
        (BotOutcomeKind::Answered, utc("2026-11-22T22:30:05Z")),
        (BotOutcomeKind::HandedOff, utc("2026-11-22T22:31:00Z")),
    ];
    vec![a, b, c, d, e, f, g]
}

/// (handed over on wa, deflected on tg).
fn by_bot_channel(input: &MetricsInput, cals: &Calendars, now: DateTime<Utc>) -> (u64, u64) {
    let by = quality::compute_by(input, Dimension::Channel, cals, now);
    let (wa, tg) = (by["wa"].bot.clone().unwrap(), by["tg"].bot.clone().unwrap());
    assert_eq!((wa.conversations, tg.conversations), (2, 2));
    (wa.handed_off + tg.handed_off, tg.deflected + wa.deflected)
}

fn calendars() -> Calendars {
    let office = BusinessCalendar::new(&CalendarSpec {
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
    })
    .unwrap();
    Calendars { by_team: HashMap::from([("billing".to_owned(), office)]), ..Calendars::default() }
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
            .put_rollup_day("Europe/Berlin", day, vec![row("", "", "{}"), row("channel", "wa", "{\"a\":1}")], at)
            .await
            .unwrap();
        store.put_rollup_day("Europe/Berlin", day, vec![row("", "", "{\"b\":2}")], at).await.unwrap();
        let rows = store.rollup_rows("Europe/Berlin", day, day).await.unwrap();
        assert_eq!(rows, vec![row("", "", "{\"b\":2}")], "a day's rows are replaced as a whole");
        assert!(store.rollup_rows("UTC", day, day).await.unwrap().is_empty(), "per time zone");
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
        assert_eq!(cases(store.backlog_at(utc("2026-11-22T23:00:00Z")).await.unwrap()), vec![2, 5, 7]);
        assert_eq!(cases(store.backlog_at(utc("2026-11-16T12:00:00Z")).await.unwrap()), vec![1, 5], "A until 13:00");
        let (from, to) = Period::parse("2026-W47").unwrap().bounds(BERLIN);
        let cohort = store.cohort_input(from, to).await.unwrap();
        assert!(cohort.backlog.is_empty());
        assert_eq!(cohort.conversations.len(), 5);
    })
    .await;
}
