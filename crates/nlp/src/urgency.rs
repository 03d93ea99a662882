//! Urgency → a suggested priority P1 (most urgent) … P4, with the reasons shown to agents.

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

fn contains_any(lower: &str, words: &'static [&'static str]) -> Option<&'static str> {
    words.iter().copied().find(|w| {
        if w.is_ascii() && w.len() <= 4 {
            // Short ASCII words must stand alone ("sue" is not in "issue").
            lower.split(|c: char| !c.is_alphanumeric()).any(|t| t == *w)
        } else {
            lower.contains(*w)
        }
    })
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
    if let Some(w) = contains_any(&lower, SECURITY) {
        add(3.0, format!("security/fraud keyword \"{w}\""));
    }
    if let Some(w) = contains_any(&lower, URGENT) {
        add(2.0, format!("urgency keyword \"{w}\""));
    }
    if let Some(w) = contains_any(&lower, ESCALATION) {
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
}
