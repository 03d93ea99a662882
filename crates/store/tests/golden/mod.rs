//! The golden week: a small hand-built history whose metrics were worked out by hand (see the
//! comments), shared by the store's quality suite (the numbers, on both backends) and the
//! engine's report snapshots (`crates/engine/tests/report_snapshots.rs`, by `#[path]`).
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use switchboard_domain::calendar::{BusinessCalendar, CalendarSpec, DayHours, OpenInterval};
use switchboard_domain::quality::Calendars;
use switchboard_domain::sla::{SlaClock, SlaMetric, SlaTarget, TimeBasis, TrackedClock};
use switchboard_domain::survey::SurveyKind;
use switchboard_domain::{ContactId, ConversationId, Direction, Priority, Status, UserId};
use switchboard_store::kb::BotOutcomeKind;
use switchboard_store::quality::{HistoryConversation, HistoryMessage};
use uuid::Uuid;

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub const BERLIN: Tz = chrono_tz::Europe::Berlin;

pub fn u1() -> UserId {
    UserId(Uuid::from_u128(0x01))
}
pub fn u2() -> UserId {
    UserId(Uuid::from_u128(0x02))
}
pub fn contact(n: u128) -> ContactId {
    ContactId(Uuid::from_u128(0x100 + n))
}
pub fn conv_id(n: u128) -> ConversationId {
    ConversationId(Uuid::from_u128(0x200 + n))
}

pub fn customer(at: &str, triage: Option<(&str, &str, &str)>) -> HistoryMessage {
    HistoryMessage {
        direction: Direction::Inbound,
        author_id: None,
        text: "customer".into(),
        at: utc(at),
        triage: triage.map(|(l, i, s)| (l.into(), i.into(), s.into())),
    }
}

pub fn agent(at: &str, who: UserId) -> HistoryMessage {
    HistoryMessage {
        direction: Direction::Outbound,
        author_id: Some(who),
        text: "agent".into(),
        at: utc(at),
        triage: None,
    }
}

pub fn note(at: &str, who: UserId) -> HistoryMessage {
    HistoryMessage { direction: Direction::Note, author_id: Some(who), text: "note".into(), at: utc(at), triage: None }
}

pub fn automatic(at: &str) -> HistoryMessage {
    HistoryMessage {
        direction: Direction::Outbound,
        author_id: Some(switchboard_store::routing::AUTOMATION_USER),
        text: "ack".into(),
        at: utc(at),
        triage: None,
    }
}

pub fn clock(
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
pub fn base(
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
pub fn history() -> Vec<HistoryConversation> {
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

/// Mon–Fri 09:00–17:00 in Berlin: the calendar of team `billing`.
pub fn office() -> CalendarSpec {
    CalendarSpec {
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
    }
}

/// The business calendars of the golden week: `billing` works office hours.
pub fn calendars() -> Calendars {
    let office = BusinessCalendar::new(&office()).unwrap();
    Calendars { by_team: HashMap::from([("billing".to_owned(), office)]), ..Calendars::default() }
}
