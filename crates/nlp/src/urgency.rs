//! Urgency → a suggested priority P1 (most urgent) … P4, with the reasons shown to agents.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default)]
pub struct MessageContext {
    /// Posted where everyone can see it (a public mention/comment rather than a DM).
    pub public: bool,
    pub author_followers: Option<u64>,
    /// e.g. `vip`, `enterprise`, `premium`, `standard`.
    pub customer_tier: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Priority {
    /// `P1` … `P4`.
    pub level: String,
    pub score: f32,
    pub reasons: Vec<String>,
}

/// Security and fraud words in the languages the models cover.
const SECURITY: &[&str] = &[
    "hacked",
    "hack",
    "fraud",
    "stolen",
    "scam",
    "unauthorized",
    "unauthorised",
    "phishing",
    "identity theft",
    "compromised",
    "被盗",
    "盗号",
    "诈骗",
    "盗刷",
    "被骗",
    "黑客",
    "gehackt",
    "betrug",
    "gestohlen",
    "hackeado",
    "fraude",
    "robado",
    "estafa",
    "piraté",
    "volé",
    "arnaque",
    "roubado",
    "golpe",
    "rubato",
    "truffa",
    "dolandırıcı",
    "çalındı",
    "взлом",
    "мошенни",
    "украли",
    "احتيال",
    "سرقة",
    "ハッキング",
    "詐欺",
    "해킹",
    "사기",
];

const URGENT: &[&str] = &[
    "urgent",
    "asap",
    "emergency",
    "immediately",
    "right now",
    "紧急",
    "急",
    "马上",
    "立刻",
    "dringend",
    "sofort",
    "urgente",
    "inmediatamente",
    "urgence",
    "immédiatement",
    "subito",
    "acil",
    "срочно",
    "عاجل",
    "至急",
    "긴급",
];

const ESCALATION: &[&str] = &[
    "lawyer",
    "lawsuit",
    "sue",
    "legal action",
    "police",
    "chargeback",
    "regulator",
    "律师",
    "起诉",
    "报警",
    "消协",
    "anwalt",
    "abogado",
    "demanda",
    "avocat",
    "plainte",
    "advogado",
];

/// The three keyword lists in one automaton, so a message is scanned once, not once per word.
struct Keywords {
    ac: AhoCorasick,
    /// For each pattern: its list (0 security, 1 urgent, 2 escalation) and its place in it.
    of: Vec<(usize, usize)>,
}

static KEYWORDS: LazyLock<Option<Keywords>> = LazyLock::new(|| {
    let lists = [SECURITY, URGENT, ESCALATION];
    let mut of = Vec::new();
    let mut pats = Vec::new();
    for (l, words) in lists.iter().enumerate() {
        for (i, w) in words.iter().enumerate() {
            of.push((l, i));
            pats.push(*w);
        }
    }
    AhoCorasick::new(&pats).ok().map(|ac| Keywords { ac, of })
});

/// For each list, the first of its words (in list order) that `lower` contains. Short ASCII
/// words must stand alone ("sue" is not in "issue").
fn keywords_in(lower: &str) -> [Option<&'static str>; 3] {
    let lists = [SECURITY, URGENT, ESCALATION];
    let mut best = [usize::MAX; 3];
    match KEYWORDS.as_ref() {
        Some(k) => {
            for m in k.ac.find_overlapping_iter(lower) {
                let (l, i) = k.of[m.pattern().as_usize()];
                if i < best[l] && stands_alone(lower, lists[l][i], m.start(), m.end()) {
                    best[l] = i;
                }
            }
        }
        // The automaton is built from constant words; this only runs if building it ever failed.
        None => {
            for (l, words) in lists.iter().enumerate() {
                best[l] = words
                    .iter()
                    .position(|w| {
                        if w.is_ascii() && w.len() <= 4 {
                            lower.split(|c: char| !c.is_alphanumeric()).any(|t| t == *w)
                        } else {
                            lower.contains(*w)
                        }
                    })
                    .unwrap_or(usize::MAX);
            }
        }
    }
    [0, 1, 2].map(|l| lists[l].get(best[l]).copied())
}

fn stands_alone(lower: &str, w: &str, start: usize, end: usize) -> bool {
    if !(w.is_ascii() && w.len() <= 4) {
        return true;
    }
    let before = lower[..start].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
    let after = lower[end..].chars().next().is_none_or(|c| !c.is_alphanumeric());
    before && after
}

pub fn assess(text: &str, intent: &str, sentiment: &str, sentiment_score: f32, ctx: &MessageContext) -> Priority {
    let lower = text.to_lowercase();
    let mut score = 0f32;
    let mut reasons = Vec::new();
    let mut add = |pts: f32, why: String| {
        score += pts;
        reasons.push(why);
    };
    match intent {
        "account_access" => add(2.0, "intent: account access/security".into()),
        "billing" | "refund_return" | "cancellation" => add(1.0, format!("intent: {intent}")),
        "complaint" | "technical_problem" | "delivery" => add(1.0, format!("intent: {intent}")),
        _ => {}
    }
    if sentiment == "negative" {
        if sentiment_score < -0.6 {
            add(2.0, "strongly negative sentiment".into());
        } else {
            add(1.0, "negative sentiment".into());
        }
    }
    let [security, urgent, escalation] = keywords_in(&lower);
    if let Some(w) = security {
        add(3.0, format!("security/fraud keyword \"{w}\""));
    }
    if let Some(w) = urgent {
        add(2.0, format!("urgency keyword \"{w}\""));
    }
    if let Some(w) = escalation {
        add(2.0, format!("escalation keyword \"{w}\""));
    }
    if ctx.public {
        add(1.0, "public post".into());
    }
    match ctx.author_followers {
        Some(f) if f >= 100_000 => add(2.0, format!("author reach {f} followers")),
        Some(f) if f >= 10_000 => add(1.0, format!("author reach {f} followers")),
        _ => {}
    }
    match ctx.customer_tier.as_deref().map(str::to_lowercase).as_deref() {
        Some("vip" | "enterprise") => add(2.0, "customer tier vip/enterprise".into()),
        Some("premium" | "gold") => add(1.0, "customer tier premium".into()),
        _ => {}
    }
    let level = if score >= 6.0 {
        "P1"
    } else if score >= 4.0 {
        "P2"
    } else if score >= 2.0 {
        "P3"
    } else {
        "P4"
    };
    Priority { level: level.to_owned(), score, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_follow_the_signals() {
        let ctx = MessageContext { public: true, author_followers: Some(250_000), customer_tier: None };
        let p =
            assess("My account was HACKED and someone made a fraud purchase", "account_access", "negative", -0.8, &ctx);
        assert_eq!(p.level, "P1");
        assert!(p.reasons.iter().any(|r| r.contains("hacked")));
        let p = assess("账号被盗了，紧急！", "account_access", "negative", -0.5, &MessageContext::default());
        assert_eq!(p.level, "P1", "{p:?}");
        let p = assess("thanks, love it", "praise", "positive", 0.9, &MessageContext::default());
        assert_eq!(p.level, "P4");
        assert!(p.reasons.is_empty());
        let p = assess("this is an issue with my order", "order_status", "neutral", 0.0, &MessageContext::default());
        assert_eq!(p.level, "P4", "'sue' inside 'issue' is not a keyword: {p:?}");
    }

    /// The word-by-word search this module used before the automaton: the reference.
    fn reference(lower: &str) -> [Option<&'static str>; 3] {
        [SECURITY, URGENT, ESCALATION].map(|words| {
            words.iter().copied().find(|w| {
                if w.is_ascii() && w.len() <= 4 {
                    lower.split(|c: char| !c.is_alphanumeric()).any(|t| t == *w)
                } else {
                    lower.contains(*w)
                }
            })
        })
    }

    proptest::proptest! {
        #[test]
        fn one_scan_finds_what_the_word_by_word_search_found(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "sue", "issue", "hack", "hacked", "asap", "急", "紧急", "lawyer", "police", "acil", "golpe",
                    "scam", "scammer", "right now", "now", " ", ", ", "x", "9", "é", "взлом", "sued", "abogado",
                ]),
                0..12,
            )
        ) {
            let text: String = parts.concat();
            proptest::prop_assert_eq!(keywords_in(&text), reference(&text), "{:?}", text);
        }
    }
}
