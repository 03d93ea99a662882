//! The FAQ bot's decision rules, free of I/O: given one inbound message, its triage, the
//! search results and what the bot already did in the conversation, answer with an article,
//! record the customer's feedback, hand off to a person, or stay out of it. The engine job
//! (crates/engine/src/bot.rs) does the reading, sending and recording.
//!
//! Handoff always wins over answering: the bot never answers when a trigger fires.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_store::kb::ArticleId;

use crate::index::{SearchHit, SearchResults};

/// Phrases that ask for a person, in the languages the desk serves. Channels add their own.
pub const DEFAULT_HANDOFF_PHRASES: &[&str] = &[
    "agent",
    "human",
    "real person",
    "a person",
    "talk to someone",
    "speak to someone",
    "representative",
    "operator",
    "人工",
    "转人工",
    "人工客服",
    "真人",
    "hablar con un agente",
    "agente",
    "humano",
    "mitarbeiter",
    "conseiller",
    "un humain",
    "operatore",
    "atendente",
];

const YES: &[&str] = &[
    "yes",
    "y",
    "yeah",
    "yep",
    "yes thanks",
    "yes thank you",
    "it did",
    "it helped",
    "helpful",
    "是",
    "是的",
    "有帮助",
    "解决了",
    "有用",
    "好的",
    "sí",
    "si",
    "ja",
    "oui",
    "sim",
    "1",
];
const NO: &[&str] = &[
    "no",
    "n",
    "nope",
    "not really",
    "no it didn't",
    "it didn't",
    "didn't help",
    "not helpful",
    "否",
    "不",
    "没有",
    "不是",
    "没用",
    "没有帮助",
    "nein",
    "non",
    "não",
    "nao",
    "2",
];

/// A channel's bot settings (stored as JSON; unknown keys are refused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BotSettings {
    /// The bot acts on this channel.
    pub enabled: bool,
    /// Least search confidence (0–1) to answer.
    pub min_confidence: f32,
    /// Also answer public posts (an X mention) with article content.
    pub answer_public: bool,
    /// Extra phrases that ask for a person (the built-in ones always apply).
    pub handoff_phrases: Vec<String>,
    /// Hand off when sentiment is negative with a score at or below this (−1…0).
    pub negative_sentiment: f32,
    /// Hand off at these priorities (`P1` … `P4`).
    pub handoff_priorities: Vec<String>,
    /// Locale to answer in when the customer's language is unknown.
    pub default_locale: String,
}

impl Default for BotSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            min_confidence: 0.6,
            answer_public: false,
            handoff_phrases: Vec::new(),
            negative_sentiment: -0.8,
            handoff_priorities: vec!["P1".into()],
            default_locale: "en".into(),
        }
    }
}

impl BotSettings {
    /// Parses and checks stored or submitted settings; the message names the field.
    pub fn from_json(v: &Value) -> Result<BotSettings, String> {
        let s: BotSettings = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        if !(0.0..=1.0).contains(&s.min_confidence) {
            return Err("min_confidence must be between 0 and 1".into());
        }
        if !(-1.0..=0.0).contains(&s.negative_sentiment) {
            return Err("negative_sentiment must be between -1 and 0".into());
        }
        if let Some(p) = s.handoff_priorities.iter().find(|p| !["P1", "P2", "P3", "P4"].contains(&p.as_str())) {
            return Err(format!("handoff_priorities: {p:?} is not one of P1, P2, P3, P4"));
        }
        if s.handoff_phrases.len() > 100 || s.handoff_phrases.iter().any(|p| p.trim().is_empty() || p.len() > 100) {
            return Err("handoff_phrases: at most 100, each 1-100 characters".into());
        }
        if !switchboard_store::kb::valid_locale(&s.default_locale) {
            return Err(format!("default_locale {:?} is not a locale tag", s.default_locale));
        }
        Ok(s)
    }
}

/// Why the bot handed a conversation to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffReason {
    RequestedHuman,
    LowConfidence,
    NegativeSentiment,
    HighUrgency,
    RepeatedFailure,
    AccountSecurity,
    PublicPost,
    NoArticleInLanguage,
}

impl HandoffReason {
    /// The stored reason.
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffReason::RequestedHuman => "requested_human",
            HandoffReason::LowConfidence => "low_confidence",
            HandoffReason::NegativeSentiment => "negative_sentiment",
            HandoffReason::HighUrgency => "high_urgency",
            HandoffReason::RepeatedFailure => "repeated_failure",
            HandoffReason::AccountSecurity => "account_security",
            HandoffReason::PublicPost => "public_post",
            HandoffReason::NoArticleInLanguage => "no_article_in_language",
        }
    }
}

/// The triage signals the rules read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signals {
    /// ISO 639-1 or `unknown`.
    pub language: String,
    pub sentiment: String,
    pub sentiment_score: f32,
    pub intent: String,
    pub intent_confidence: f32,
    pub priority: String,
    pub priority_reasons: Vec<String>,
}

/// What the bot did earlier in the conversation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Articles sent, oldest first.
    pub answered: Vec<ArticleId>,
    /// Articles the customer said did not help.
    pub not_helped: Vec<ArticleId>,
    /// The last answer, if the customer has not said yet whether it helped.
    pub awaiting_feedback: Option<ArticleId>,
    /// The bot handed off already.
    pub handed_off: bool,
    /// A person has replied: the bot stays out.
    pub human_replied: bool,
}

/// One inbound message to decide on.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub text: &'a str,
    /// `extra["button_data"]` of the inbound event.
    pub button_data: Option<&'a str>,
    /// Posted publicly (an X mention or reply).
    pub public: bool,
    pub signals: &'a Signals,
    pub history: &'a History,
    pub settings: &'a BotSettings,
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Not the bot's business (a person has taken over, or already handed off).
    Silent(&'static str),
    /// The customer answered "did it help?".
    Feedback { article: ArticleId, helped: bool, then_handoff: bool },
    /// Send this article.
    Answer { hit: SearchHit, confidence: f32 },
    /// Hand off; `detail` is for the agents' note and the outcome's reason.
    Handoff { reason: HandoffReason, detail: String },
}

/// The locale to answer a customer writing in `language`.
pub fn locale_for(language: &str, default_locale: &str) -> String {
    match language {
        "zh" => "zh-CN".into(),
        "" | "unknown" => default_locale.into(),
        other => other.into(),
    }
}

fn normalise(text: &str) -> String {
    text.trim()
        .trim_matches(|c: char| c.is_ascii_punctuation() || "。！？，、~～ ".contains(c) || c.is_whitespace())
        .to_lowercase()
}

/// Whether `text` contains `phrase`: whole words for alphabetic phrases, anywhere for CJK.
pub fn contains_phrase(text: &str, phrase: &str) -> bool {
    let (text, phrase) = (text.to_lowercase(), phrase.trim().to_lowercase());
    if phrase.is_empty() {
        return false;
    }
    if !phrase.chars().any(|c| c.is_alphabetic() && c.is_ascii() || c.is_alphabetic() && (c as u32) < 0x2E80) {
        return text.contains(&phrase);
    }
    let mut from = 0;
    while let Some(i) = text[from..].find(&phrase) {
        let start = from + i;
        let end = start + phrase.len();
        let before = text[..start].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let after = text[end..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        if before && after {
            return true;
        }
        from = start + phrase.chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// The customer's yes/no to "did it help?" in free text, if that is all the message says.
pub fn yes_no(text: &str) -> Option<bool> {
    let t = normalise(text);
    if YES.contains(&t.as_str()) {
        Some(true)
    } else if NO.contains(&t.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// Whether the text asks something (a question mark, or a Chinese question word or particle).
pub fn is_question(text: &str) -> bool {
    let t = text.trim_end();
    t.ends_with(['?', '？'])
        || ["吗", "呢", "怎么", "如何", "什么", "多长", "多久", "哪", "为什么", "能否", "可以"]
            .iter()
            .any(|w| t.contains(w))
}

/// Parses `bot:helped:<id>` / `bot:not_helped:<id>`.
pub fn parse_button(data: &str) -> Option<(bool, ArticleId)> {
    let rest = data.strip_prefix("bot:")?;
    let (helped, id) = if let Some(id) = rest.strip_prefix("helped:") {
        (true, id)
    } else {
        (false, rest.strip_prefix("not_helped:")?)
    };
    uuid::Uuid::parse_str(id).ok().map(|u| (helped, ArticleId(u)))
}

/// Confidence of the best hit after the triage intent is taken into account: a confident intent
/// that the article is linked to raises it, one it is not linked to lowers it.
pub fn adjusted_confidence(results: &SearchResults, s: &Signals) -> f32 {
    let Some(best) = results.hits.first() else { return 0.0 };
    let mut c = results.confidence;
    if s.intent_confidence >= 0.5 && !best.intents.is_empty() && !matches!(s.intent.as_str(), "other" | "question" | "")
    {
        if best.intents.contains(&s.intent) {
            c += 0.15;
        } else {
            c -= 0.1;
        }
    }
    c.clamp(0.0, 1.0)
}

/// Decides before searching: feedback, and the handoff triggers that need no search.
pub fn decide_before_search(i: &Input<'_>) -> Option<Decision> {
    let h = i.history;
    if h.handed_off {
        return Some(Decision::Silent("handed off earlier"));
    }
    if h.human_replied {
        return Some(Decision::Silent("a person has replied"));
    }
    if let Some(data) = i.button_data {
        // Another feature's button (a survey's `csat:`/`nps:` answer) is not a question.
        let Some((helped, article)) = parse_button(data) else {
            return Some(Decision::Silent("another feature's button"));
        };
        return Some(feedback(h, article, helped));
    }
    let phrases = DEFAULT_HANDOFF_PHRASES.iter().copied().chain(i.settings.handoff_phrases.iter().map(String::as_str));
    for p in phrases {
        if contains_phrase(i.text, p) {
            return Some(Decision::Handoff {
                reason: HandoffReason::RequestedHuman,
                detail: format!("asked for a person (\"{p}\")"),
            });
        }
    }
    if let (Some(article), Some(helped)) = (h.awaiting_feedback, yes_no(i.text)) {
        return Some(feedback(h, article, helped));
    }
    if i.public && !i.settings.answer_public {
        return Some(Decision::Handoff {
            reason: HandoffReason::PublicPost,
            detail: "public post: not answered by the bot".into(),
        });
    }
    let s = i.signals;
    if let Some(r) = s.priority_reasons.iter().find(|r| r.starts_with("security/fraud keyword")) {
        return Some(Decision::Handoff {
            reason: HandoffReason::AccountSecurity,
            detail: format!("account security ({r})"),
        });
    }
    if i.settings.handoff_priorities.contains(&s.priority) {
        return Some(Decision::Handoff {
            reason: HandoffReason::HighUrgency,
            detail: format!("priority {} ({})", s.priority, s.priority_reasons.join("; ")),
        });
    }
    // The Chinese sentiment model is trained on two-class product reviews and scores plain
    // questions ("配送需要多长时间？") near −1: for Chinese questions the score is not a signal.
    let unreliable = s.language == "zh" && is_question(i.text);
    if s.sentiment == "negative" && s.sentiment_score <= i.settings.negative_sentiment && !unreliable {
        return Some(Decision::Handoff {
            reason: HandoffReason::NegativeSentiment,
            detail: format!("strongly negative sentiment ({:.2})", s.sentiment_score),
        });
    }
    None
}

fn feedback(h: &History, article: ArticleId, helped: bool) -> Decision {
    // "The same question fails twice": this is the second answer that did not help.
    let then_handoff = !helped && !h.not_helped.is_empty();
    Decision::Feedback { article, helped, then_handoff }
}

/// The whole decision, given the search results in the customer's locale (`None` when the
/// knowledge base has nothing published in it).
pub fn decide(i: &Input<'_>, results: Option<&SearchResults>) -> Decision {
    if let Some(d) = decide_before_search(i) {
        return d;
    }
    let Some(results) = results else {
        return Decision::Handoff {
            reason: HandoffReason::NoArticleInLanguage,
            detail: format!("no published articles in the customer's language ({})", i.signals.language),
        };
    };
    let confidence = adjusted_confidence(results, i.signals);
    let Some(best) = results.hits.first() else {
        return Decision::Handoff { reason: HandoffReason::LowConfidence, detail: "no article matched".into() };
    };
    if confidence < i.settings.min_confidence {
        return Decision::Handoff {
            reason: HandoffReason::LowConfidence,
            detail: format!(
                "best match \"{}\" at confidence {confidence:.2} (needs {:.2})",
                best.title, i.settings.min_confidence
            ),
        };
    }
    if i.history.not_helped.contains(&best.article_id) {
        return Decision::Handoff {
            reason: HandoffReason::RepeatedFailure,
            detail: format!("\"{}\" already did not help", best.title),
        };
    }
    Decision::Answer { hit: best.clone(), confidence }
}

fn zh(locale: &str) -> bool {
    locale.to_ascii_lowercase().starts_with("zh")
}

/// The answer message: marked as automated, a short snippet, the link, the question.
pub fn answer_text(locale: &str, hit: &SearchHit, url: &str) -> String {
    if zh(locale) {
        format!(
            "🤖 自动回复：{}\n{}\n详情：{url}\n\n这个回答解决您的问题了吗？（随时回复“人工”可转接客服。）",
            hit.title, hit.summary
        )
    } else {
        format!(
            "🤖 Automated answer: {}\n{}\nRead more: {url}\n\nDid this answer your question? (Reply \"agent\" any time to talk to a person.)",
            hit.title, hit.summary
        )
    }
}

/// The Yes/No buttons of an answer (`payload.buttons`, see TEAM.md's contract).
pub fn answer_payload(locale: &str, article: ArticleId) -> Value {
    let (yes, no) = if zh(locale) { ("是", "否") } else { ("Yes", "No") };
    json!({"buttons": [
        {"text": yes, "data": format!("bot:helped:{article}")},
        {"text": no, "data": format!("bot:not_helped:{article}")},
    ]})
}

/// Said when handing off (private conversations only).
pub fn handoff_text(locale: &str) -> &'static str {
    if zh(locale) {
        "🤖 正在为您转接人工客服，工作人员会尽快在这里回复您。"
    } else {
        "🤖 I'm passing you to a member of our team. A person will reply here soon."
    }
}

/// Said after "it did not help" the first time.
pub fn retry_text(locale: &str) -> &'static str {
    if zh(locale) {
        "🤖 抱歉没能帮到您。能换个说法描述一下您的问题吗？也可以回复“人工”转接客服。"
    } else {
        "🤖 Sorry that didn't help. Could you describe your question in other words? Or reply \"agent\" to talk to a person."
    }
}

/// Said after "it helped".
pub fn thanks_text(locale: &str) -> &'static str {
    if zh(locale) { "🤖 很高兴能帮到您！" } else { "🤖 Glad that helped!" }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hit(id: u128, intents: &[&str]) -> SearchHit {
        SearchHit {
            article_id: ArticleId(uuid::Uuid::from_u128(id)),
            slug: "s".into(),
            locale: "en".into(),
            title: "Returns".into(),
            category: "c".into(),
            summary: "sum".into(),
            intents: intents.iter().map(|s| (*s).to_owned()).collect(),
            score: 3.0,
        }
    }

    fn run(text: &str, s: &Signals, h: &History, r: &SearchResults, public: bool) -> Decision {
        let settings = BotSettings { enabled: true, ..BotSettings::default() };
        decide(&Input { text, button_data: None, public, signals: s, history: h, settings: &settings }, Some(r))
    }

    fn neutral() -> Signals {
        Signals { language: "en".into(), sentiment: "neutral".into(), priority: "P4".into(), ..Signals::default() }
    }

    #[test]
    fn each_trigger_hands_off_and_never_answers() {
        let good = SearchResults { hits: vec![hit(1, &["refund_return"])], confidence: 0.95 };
        let h = History::default();
        let n = neutral();
        assert!(matches!(run("how do I return this", &n, &h, &good, false), Decision::Answer { .. }));
        let reason = |d: Decision| match d {
            Decision::Handoff { reason, .. } => reason,
            other => panic!("expected a handoff, got {other:?}"),
        };
        assert_eq!(reason(run("return this, I want a human", &n, &h, &good, false)), HandoffReason::RequestedHuman);
        assert_eq!(reason(run("退货 转人工", &n, &h, &good, false)), HandoffReason::RequestedHuman);
        assert_eq!(reason(run("quiero hablar con un agente", &n, &h, &good, false)), HandoffReason::RequestedHuman);
        assert_eq!(reason(run("return it", &n, &h, &good, true)), HandoffReason::PublicPost);
        let low = SearchResults { hits: vec![hit(1, &[])], confidence: 0.3 };
        assert_eq!(reason(run("return it", &n, &h, &low, false)), HandoffReason::LowConfidence);
        let empty = SearchResults::default();
        assert_eq!(reason(run("return it", &n, &h, &empty, false)), HandoffReason::LowConfidence);
        let angry = Signals { sentiment: "negative".into(), sentiment_score: -0.8, ..neutral() };
        assert_eq!(reason(run("return it", &angry, &h, &good, false)), HandoffReason::NegativeSentiment);
        let zh_question = Signals { language: "zh".into(), ..angry.clone() };
        assert!(matches!(run("配送需要多长时间？", &zh_question, &h, &good, false), Decision::Answer { .. }));
        assert_eq!(reason(run("太差了，气死我了", &zh_question, &h, &good, false)), HandoffReason::NegativeSentiment);
        let urgent = Signals { priority: "P1".into(), ..neutral() };
        assert_eq!(reason(run("return it", &urgent, &h, &good, false)), HandoffReason::HighUrgency);
        let hacked = Signals { priority_reasons: vec!["security/fraud keyword \"hacked\"".into()], ..neutral() };
        assert_eq!(reason(run("my account was hacked", &hacked, &h, &good, false)), HandoffReason::AccountSecurity);
        let failed = History { not_helped: vec![ArticleId(uuid::Uuid::from_u128(1))], ..History::default() };
        assert_eq!(reason(run("return it", &n, &failed, &good, false)), HandoffReason::RepeatedFailure);
        let settings = BotSettings { enabled: true, ..BotSettings::default() };
        let i = Input { text: "hola", button_data: None, public: false, signals: &n, history: &h, settings: &settings };
        assert_eq!(reason(decide(&i, None)), HandoffReason::NoArticleInLanguage);
    }

    #[test]
    fn intent_moves_confidence() {
        let r = SearchResults { hits: vec![hit(1, &["refund_return"])], confidence: 0.5 };
        let s = Signals { intent: "refund_return".into(), intent_confidence: 0.9, ..neutral() };
        assert!((adjusted_confidence(&r, &s) - 0.65).abs() < 1e-6);
        let s = Signals { intent: "delivery".into(), intent_confidence: 0.9, ..neutral() };
        assert!((adjusted_confidence(&r, &s) - 0.4).abs() < 1e-6);
    }

    #[test]
    fn feedback_by_button_or_text_and_second_failure_hands_off() {
        let a = ArticleId(uuid::Uuid::from_u128(7));
        let n = neutral();
        let settings = BotSettings::default();
        let h = History { answered: vec![a], awaiting_feedback: Some(a), ..History::default() };
        let data = format!("bot:not_helped:{a}");
        let i = Input {
            text: "No",
            button_data: Some(&data),
            public: false,
            signals: &n,
            history: &h,
            settings: &settings,
        };
        assert_eq!(
            decide_before_search(&i),
            Some(Decision::Feedback { article: a, helped: false, then_handoff: false })
        );
        let i = Input { text: "是的！", button_data: None, ..i };
        assert_eq!(
            decide_before_search(&i),
            Some(Decision::Feedback { article: a, helped: true, then_handoff: false })
        );
        let h2 = History { not_helped: vec![ArticleId(uuid::Uuid::from_u128(3))], ..h.clone() };
        let i = Input { text: "no", history: &h2, ..i };
        assert_eq!(
            decide_before_search(&i),
            Some(Decision::Feedback { article: a, helped: false, then_handoff: true })
        );
        let i = Input { text: "5", button_data: Some("csat:5"), history: &h, ..i };
        assert_eq!(decide_before_search(&i), Some(Decision::Silent("another feature's button")));
        let done = History { handed_off: true, ..History::default() };
        let i = Input { text: "agent", history: &done, ..i };
        assert!(matches!(decide_before_search(&i), Some(Decision::Silent(_))));
    }

    #[test]
    fn phrases_match_whole_words() {
        assert!(contains_phrase("Can I talk to an AGENT?", "agent"));
        assert!(!contains_phrase("my travel agentur", "agent"));
        assert!(!contains_phrase("reagent", "agent"));
        assert!(contains_phrase("我要转人工！", "人工"));
        assert_eq!(yes_no(" Yes! "), Some(true));
        assert_eq!(yes_no("否"), Some(false));
        assert_eq!(yes_no("yes but where is my parcel"), None);
        assert!(parse_button("bot:helped:not-a-uuid").is_none());
        assert!(parse_button("csat:5").is_none());
    }

    #[test]
    fn settings_are_checked() {
        assert!(BotSettings::from_json(&json!({"enabled": true})).unwrap().enabled);
        assert!(BotSettings::from_json(&json!({"min_confidence": 2})).unwrap_err().contains("min_confidence"));
        assert!(BotSettings::from_json(&json!({"colour": 1})).unwrap_err().contains("colour"));
        assert!(BotSettings::from_json(&json!({"handoff_priorities": ["P9"]})).unwrap_err().contains("P9"));
    }
}
