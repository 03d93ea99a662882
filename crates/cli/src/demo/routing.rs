//! Demo routing set-up: two teams with business hours, the demo agents as members, an SLA policy
//! for gold customers, a few automation rules and canned replies in English and Chinese.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use switchboard_domain::automation::{Action, Condition, Rule, TriggerEvent};
use switchboard_domain::calendar::{CalendarSpec, DayHours, OpenInterval, SpecialDate};
use switchboard_domain::routing::{AssignmentPolicy, Availability, MemberRole, Skills};
use switchboard_domain::sla::{EscalationAction, EscalationLevel, SlaConditions, SlaPolicy, SlaTarget, TimeBasis};
use switchboard_domain::{Priority, UserId};
use switchboard_store::DynStore;
use switchboard_store::routing::{CannedInput, MemberInput, TeamInput};

fn office(tz: &str, open: &str, close: &str, holidays: &[(i32, u32, u32, &str)]) -> CalendarSpec {
    let iv = |a: &str, b: &str| OpenInterval { start: a.into(), end: b.into() };
    CalendarSpec {
        time_zone: tz.into(),
        always_open: false,
        weekly: ["mon", "tue", "wed", "thu", "fri"]
            .iter()
            .map(|d| DayHours { day: (*d).into(), intervals: vec![iv(open, "12:30"), iv("13:30", close)] })
            .collect(),
        special_dates: holidays
            .iter()
            .filter_map(|(y, m, d, name)| {
                NaiveDate::from_ymd_opt(*y, *m, *d).map(|date| SpecialDate {
                    date,
                    name: (*name).into(),
                    intervals: vec![],
                })
            })
            .collect(),
    }
}

fn rule(name: &str, conditions: Vec<Condition>, actions: Vec<Action>) -> Rule {
    Rule {
        name: name.into(),
        enabled: true,
        events: vec![TriggerEvent::ConversationCreated, TriggerEvent::MessageReceived],
        conditions,
        actions,
        stop_processing: false,
    }
}

/// Creates the demo's teams, calendars, members, SLA policy, rules and canned replies.
pub(super) async fn seed(store: &DynStore, agents: &[UserId]) -> anyhow::Result<()> {
    let berlin =
        office("Europe/Berlin", "09:00", "18:00", &[(2026, 12, 24, "Heiligabend"), (2026, 12, 25, "Weihnachten")]);
    let shanghai = office("Asia/Shanghai", "09:00", "18:00", &[(2026, 10, 1, "国庆节"), (2026, 10, 2, "国庆节")]);
    store.put_calendar("berlin", &berlin).await.context("demo calendar")?;
    store.put_calendar("shanghai", &shanghai).await.context("demo calendar")?;
    for (name, description, policy, cal) in [
        ("support", "First-line support", AssignmentPolicy::LeastBusy, "berlin"),
        ("china", "中文客服", AssignmentPolicy::SkillMatch, "shanghai"),
    ] {
        store
            .create_team(&TeamInput {
                name: name.into(),
                description: description.into(),
                assignment_policy: policy,
                calendar: Some(cal.into()),
            })
            .await
            .with_context(|| format!("demo team {name}"))?;
    }
    let now = Utc::now();
    for (i, agent) in agents.iter().enumerate() {
        let languages = if i == 0 { vec!["zh".into(), "en".into()] } else { vec!["en".into()] };
        let member = MemberInput {
            role: if i == 0 { MemberRole::Supervisor } else { MemberRole::Agent },
            skills: Skills { languages, ..Default::default() },
            capacity: [("*".to_string(), 25)].into(),
        };
        for team in ["support", "china"] {
            store.put_team_member(team, *agent, &member).await.context("demo team member")?;
        }
        store.set_availability(*agent, Availability::Online, now).await.context("demo availability")?;
    }
    store
        .create_sla_policy(
            0,
            &SlaPolicy {
                name: "Gold customers".into(),
                conditions: SlaConditions { tiers: vec!["gold".into()], ..Default::default() },
                first_response: Some(SlaTarget { minutes: 15, basis: TimeBasis::Calendar }),
                next_response: Some(SlaTarget { minutes: 30, basis: TimeBasis::Calendar }),
                resolution: Some(SlaTarget { minutes: 240, basis: TimeBasis::Business }),
                warn_at_percent: Some(75),
                escalations: vec![
                    EscalationLevel { at_percent: 100, action: EscalationAction::NotifyAssignee },
                    EscalationLevel { at_percent: 150, action: EscalationAction::NotifySupervisor },
                    EscalationLevel { at_percent: 200, action: EscalationAction::RaisePriority },
                    EscalationLevel { at_percent: 300, action: EscalationAction::NotifyManager },
                ],
            },
        )
        .await
        .context("demo SLA policy")?;
    let rules = [
        rule(
            "Chinese customers go to the China team",
            vec![Condition::Keywords { any_of: vec!["的".into(), "我".into(), "您".into(), "吗".into()] }],
            vec![Action::AssignTeam { team: "china".into() }],
        ),
        rule(
            "Everything else goes to support",
            vec![Condition::Keywords { any_of: vec!["order".into(), "parcel".into(), "help".into(), "refund".into()] }],
            vec![Action::AssignTeam { team: "support".into() }],
        ),
        rule(
            "Refunds are tagged and urgent when angry",
            vec![Condition::Keywords { any_of: vec!["refund".into(), "退款".into(), "chargeback".into()] }],
            vec![Action::AddTags { tags: vec!["refund".into()] }, Action::SetPriority { priority: Priority::High }],
        ),
    ];
    for (i, r) in rules.iter().enumerate() {
        store.create_rule(i as i32 * 10, r).await.context("demo rule")?;
    }
    let canned = [
        (
            "greeting",
            "Greeting",
            None,
            [
                (
                    "en",
                    "Hi {{contact.first_name}}, thanks for reaching out — this is {{agent.name}}, I'm looking at {{case_number}} now.",
                ),
                ("zh", "{{contact.first_name}}您好，我是{{agent.name}}，正在为您处理{{case_number}}。"),
            ],
        ),
        (
            "refund-received",
            "Refund request received",
            Some("support"),
            [
                ("en", "We have your refund request ({{case_number}}). You will hear from us by {{sla.due_local}}."),
                ("zh", "我们已收到您的退款申请（{{case_number}}），将在{{sla.due_local}}之前回复您。"),
            ],
        ),
    ];
    for (shortcut, title, team, variants) in canned {
        let variants: BTreeMap<String, String> = variants.iter().map(|(l, t)| (l.to_string(), t.to_string())).collect();
        store
            .create_canned(&CannedInput {
                shortcut: shortcut.into(),
                title: title.into(),
                team: team.map(Into::into),
                variants,
            })
            .await
            .context("demo canned reply")?;
    }
    Ok(())
}
