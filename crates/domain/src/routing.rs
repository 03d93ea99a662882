//! Routing policy: which agent of a team gets a conversation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{UserId, string_enum};

string_enum!(
    /// Whether an agent takes new work.
    Availability, "availability" {
        /// Takes new conversations.
        Online => "online",
        /// Keeps their conversations, gets no new ones.
        Away => "away",
        /// Gets nothing; open work is re-routed.
        Offline => "offline",
    }
);

string_enum!(
    /// A member's part in a team: who escalations notify.
    MemberRole, "member role" {
        /// Answers conversations.
        Agent => "agent",
        /// Notified at the "notify supervisor" escalation level.
        Supervisor => "supervisor",
        /// Notified at the "notify manager" escalation level.
        Manager => "manager",
    }
);

string_enum!(
    /// How a team hands out conversations.
    AssignmentPolicy, "assignment policy" {
        /// Nobody is picked automatically.
        Manual => "manual",
        /// The online agent assigned longest ago.
        RoundRobin => "round_robin",
        /// The online agent with the lowest load relative to their capacity.
        LeastBusy => "least_busy",
        /// Agents speaking the conversation's language first, then matching intent and channel,
        /// then the least busy of them.
        SkillMatch => "skill_match",
    }
);

/// Skills an agent has; empty lists mean "no particular skill".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Skills {
    /// Languages (primary tags: `en`, `zh`).
    #[serde(default)]
    pub languages: Vec<String>,
    /// Channel slugs.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Intents.
    #[serde(default)]
    pub intents: Vec<String>,
}

/// What routing knows about one team member at decision time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The agent.
    pub user_id: UserId,
    /// Availability.
    pub availability: Availability,
    /// Skills.
    pub skills: Skills,
    /// Most open conversations on the request's channel (`None`: no limit).
    pub capacity: Option<u32>,
    /// Open conversations assigned now on the request's channel.
    pub open_on_channel: u32,
    /// Open conversations assigned now on all channels.
    pub open_total: u32,
    /// When the agent was last given a conversation.
    pub last_assigned_at: Option<DateTime<Utc>>,
}

impl Candidate {
    fn has_room(&self) -> bool {
        self.availability == Availability::Online && self.capacity.is_none_or(|c| self.open_on_channel < c)
    }

    /// Load relative to capacity, in per-mille (unlimited capacity counts open work only).
    fn load(&self) -> u64 {
        match self.capacity {
            Some(c) if c > 0 => u64::from(self.open_on_channel) * 1000 / u64::from(c),
            _ => u64::from(self.open_total),
        }
    }
}

/// What is being routed.
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    /// Channel slug.
    pub channel: &'a str,
    /// Conversation language, if known.
    pub language: Option<&'a str>,
    /// Intent, if known.
    pub intent: Option<&'a str>,
}

fn primary(lang: &str) -> &str {
    lang.split(['-', '_']).next().unwrap_or(lang)
}

/// Picks the agent for a conversation under `policy`, or `None` (manual team, or nobody online
/// with room). Ties go to the agent assigned longest ago, then the lower id, so the choice is
/// deterministic.
pub fn choose_agent(policy: AssignmentPolicy, candidates: &[Candidate], req: &RouteRequest<'_>) -> Option<UserId> {
    let eligible: Vec<&Candidate> = candidates.iter().filter(|c| c.has_room()).collect();
    match policy {
        AssignmentPolicy::Manual => None,
        AssignmentPolicy::RoundRobin => {
            eligible.iter().min_by_key(|c| (c.last_assigned_at, c.user_id)).map(|c| c.user_id)
        }
        AssignmentPolicy::LeastBusy => {
            eligible.iter().min_by_key(|c| (c.load(), c.last_assigned_at, c.user_id)).map(|c| c.user_id)
        }
        AssignmentPolicy::SkillMatch => {
            let speaks = |c: &&&Candidate| {
                req.language
                    .is_some_and(|l| c.skills.languages.iter().any(|s| primary(s).eq_ignore_ascii_case(primary(l))))
            };
            // Language first: if anyone speaks it, only they are considered.
            let pool: Vec<&Candidate> = if eligible.iter().any(|c| speaks(&c)) {
                eligible.iter().filter(speaks).copied().collect()
            } else {
                eligible
            };
            let score = |c: &Candidate| {
                let intent = req.intent.is_some_and(|i| c.skills.intents.iter().any(|s| s.eq_ignore_ascii_case(i)));
                let channel = c.skills.channels.iter().any(|s| s == req.channel);
                // Lower is better.
                (u8::from(!intent), u8::from(!channel), c.load(), c.last_assigned_at, c.user_id)
            };
            pool.into_iter().min_by_key(|c| score(c)).map(|c| c.user_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn agent(n: u128, langs: &[&str], open: u32, cap: Option<u32>, last: Option<i64>) -> Candidate {
        Candidate {
            user_id: UserId(uuid::Uuid::from_u128(n)),
            availability: Availability::Online,
            skills: Skills { languages: langs.iter().map(|s| s.to_string()).collect(), ..Default::default() },
            capacity: cap,
            open_on_channel: open,
            open_total: open,
            last_assigned_at: last.and_then(|s| Utc.timestamp_opt(s, 0).single()),
        }
    }

    fn id(n: u128) -> Option<UserId> {
        Some(UserId(uuid::Uuid::from_u128(n)))
    }

    #[test]
    fn policies_pick_as_documented() {
        let req = RouteRequest { channel: "wa", language: Some("zh-CN"), intent: None };
        let team = vec![
            agent(1, &["en"], 1, Some(5), Some(100)),
            agent(2, &["zh"], 4, Some(5), Some(50)),
            agent(3, &["en", "zh"], 2, Some(2), Some(10)), // full
            agent(4, &["en"], 0, Some(5), None),
        ];
        assert_eq!(choose_agent(AssignmentPolicy::Manual, &team, &req), None);
        assert_eq!(choose_agent(AssignmentPolicy::RoundRobin, &team, &req), id(4));
        assert_eq!(choose_agent(AssignmentPolicy::LeastBusy, &team, &req), id(4));
        assert_eq!(choose_agent(AssignmentPolicy::SkillMatch, &team, &req), id(2));
        // Nobody speaks Japanese: fall back to the least busy.
        let ja = RouteRequest { language: Some("ja"), ..req };
        assert_eq!(choose_agent(AssignmentPolicy::SkillMatch, &team, &ja), id(4));
    }

    #[test]
    fn offline_away_and_full_agents_get_nothing() {
        let req = RouteRequest { channel: "wa", language: None, intent: None };
        let mut a = agent(1, &[], 0, Some(1), None);
        a.availability = Availability::Away;
        let mut b = agent(2, &[], 0, None, None);
        b.availability = Availability::Offline;
        let c = agent(3, &[], 1, Some(1), None);
        for p in AssignmentPolicy::ALL {
            assert_eq!(choose_agent(*p, &[a.clone(), b.clone(), c.clone()], &req), None);
        }
    }
}
