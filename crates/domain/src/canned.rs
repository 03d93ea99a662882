//! Canned replies and the auto-acknowledgement: per-language variants and `{{variable}}` templates.

use std::collections::BTreeMap;

use crate::CaseNumber;
use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

/// The variables a template may use.
pub const VARIABLES: &[&str] = &["contact.first_name", "contact.name", "case_number", "agent.name", "sla.due_local"];

/// Why a template is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{{` without `}}`.
    #[error("unclosed {{{{ at byte {0}")]
    Unclosed(usize),
    /// A variable that does not exist.
    #[error(
        "unknown variable {{{{{0}}}}} (known: contact.first_name, contact.name, case_number, agent.name, sla.due_local)"
    )]
    Unknown(String),
}

/// Values for a template; a missing one renders as empty text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateVars {
    /// The contact's full name.
    pub contact_name: Option<String>,
    /// `SB-000123`.
    pub case_number: Option<CaseNumber>,
    /// The agent's display name.
    pub agent_name: Option<String>,
    /// The SLA due time in the team's zone, already formatted.
    pub sla_due_local: Option<String>,
}

impl TemplateVars {
    fn get(&self, name: &str) -> Option<String> {
        match name {
            "contact.first_name" => {
                self.contact_name.as_deref().and_then(|n| n.split_whitespace().next()).map(str::to_owned)
            }
            "contact.name" => self.contact_name.clone(),
            "case_number" => self.case_number.map(|c| c.to_string()),
            "agent.name" => self.agent_name.clone(),
            "sla.due_local" => self.sla_due_local.clone(),
            _ => None,
        }
    }
}

/// Splits a template into literal text and variable names, checking every name.
fn parse(template: &str) -> Result<Vec<(bool, &str)>, TemplateError> {
    let mut parts = Vec::new();
    let mut rest = template;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        parts.push((false, &rest[..open]));
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or(TemplateError::Unclosed(offset + open))?;
        let name = after[..close].trim();
        if !VARIABLES.contains(&name) {
            return Err(TemplateError::Unknown(name.chars().take(40).collect()));
        }
        parts.push((true, name));
        let consumed = open + 2 + close + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    parts.push((false, rest));
    Ok(parts)
}

/// Checks a template without rendering it.
pub fn validate_template(template: &str) -> Result<(), TemplateError> {
    parse(template).map(|_| ())
}

/// Renders a template.
pub fn render(template: &str, vars: &TemplateVars) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() + 32);
    for (is_var, s) in parse(template)? {
        if is_var {
            out.push_str(&vars.get(s).unwrap_or_default());
        } else {
            out.push_str(s);
        }
    }
    Ok(out)
}

/// The variant for `language` among `variants` (keyed by language tag): the exact tag, then its
/// primary subtag (`zh-CN` → `zh`), then English, then the first one.
pub fn pick_variant<'v>(variants: &'v BTreeMap<String, String>, language: Option<&str>) -> Option<(&'v str, &'v str)> {
    let find = |tag: &str| variants.iter().find(|(k, _)| k.eq_ignore_ascii_case(tag));
    language
        .and_then(|l| find(l).or_else(|| find(l.split(['-', '_']).next().unwrap_or(l))))
        .or_else(|| find("en"))
        .or_else(|| variants.iter().next())
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

/// A language guess from the script alone: `zh` when the text has Han characters, else `en`.
/// Only a fallback for choosing the acknowledgement's language when triage has not set one.
pub fn script_language(text: &str) -> &'static str {
    let han = text.chars().any(|c| matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}'));
    if han { "zh" } else { "en" }
}

/// Whether the language is Chinese.
fn is_zh(language: Option<&str>) -> bool {
    language.is_some_and(|l| l.split(['-', '_']).next().is_some_and(|p| p.eq_ignore_ascii_case("zh")))
}

/// A due time as a customer reads it, relative to `now`, in the team's zone: "09:30 today",
/// "09:30 tomorrow", "Mon 12 Jan 09:30" (Chinese: "今天 09:30", "明天 09:30", "1月12日 09:30").
pub fn format_due_local(due: DateTime<Utc>, now: DateTime<Utc>, tz: Tz, language: Option<&str>) -> String {
    let d = due.with_timezone(&tz);
    let n = now.with_timezone(&tz);
    let days = (d.date_naive() - n.date_naive()).num_days();
    let hm = d.format("%H:%M").to_string();
    let zone = d.format("%Z").to_string();
    if is_zh(language) {
        match days {
            0 => format!("今天 {hm}（{zone}）"),
            1 => format!("明天 {hm}（{zone}）"),
            _ => format!("{}月{}日 {hm}（{zone}）", d.month(), d.day()),
        }
    } else {
        match days {
            0 => format!("{hm} today ({zone})"),
            1 => format!("{hm} tomorrow ({zone})"),
            _ => format!("{} {hm} ({zone})", d.format("%a %-d %b")),
        }
    }
}

/// The automatic acknowledgement: case number and the real expected answer time.
pub fn acknowledgement(case: CaseNumber, due_local: &str, language: Option<&str>) -> String {
    if is_zh(language) {
        format!("您好，我们已收到您的消息，案件编号 {case}。我们将在{due_local}之前回复您。")
    } else {
        format!("Thanks for your message — your case number is {case}. We will answer by {due_local}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_and_reject_unknown_variables() {
        let vars = TemplateVars {
            contact_name: Some("Ada Lovelace".into()),
            case_number: Some(CaseNumber(42)),
            agent_name: Some("Bob".into()),
            sla_due_local: None,
        };
        assert_eq!(
            render("Hi {{contact.first_name}}, {{ case_number }} is with {{agent.name}}.{{sla.due_local}}", &vars),
            Ok("Hi Ada, SB-000042 is with Bob.".into())
        );
        assert_eq!(render("{{contact.password}}", &vars), Err(TemplateError::Unknown("contact.password".into())));
        assert_eq!(render("oops {{case_number", &vars), Err(TemplateError::Unclosed(5)));
        assert_eq!(render("no vars, 你好", &vars), Ok("no vars, 你好".into()));
    }

    #[test]
    fn variants_follow_the_conversation_language() {
        let v: BTreeMap<String, String> =
            [("en".to_string(), "Hello".to_string()), ("zh".to_string(), "你好".to_string())].into();
        assert_eq!(pick_variant(&v, Some("zh-CN")), Some(("zh", "你好")));
        assert_eq!(pick_variant(&v, Some("fr")), Some(("en", "Hello")));
        assert_eq!(pick_variant(&v, None), Some(("en", "Hello")));
        let only_zh: BTreeMap<String, String> = [("zh".to_string(), "你好".to_string())].into();
        assert_eq!(pick_variant(&only_zh, Some("de")), Some(("zh", "你好")));
    }

    #[test]
    fn script_language_tells_chinese_from_latin() {
        assert_eq!(script_language("我的快递还没到"), "zh");
        assert_eq!(script_language("Where is my parcel?"), "en");
    }

    #[test]
    fn acknowledgement_says_when_in_both_languages() {
        let tz: Tz = "Europe/Berlin".parse().expect("tz");
        let now = DateTime::parse_from_rfc3339("2026-01-12T22:00:00Z").expect("t").with_timezone(&Utc);
        let due = DateTime::parse_from_rfc3339("2026-01-13T08:30:00Z").expect("t").with_timezone(&Utc);
        let en = format_due_local(due, now, tz, Some("en"));
        assert_eq!(en, "09:30 tomorrow (CET)");
        assert_eq!(
            acknowledgement(CaseNumber(7), &en, Some("en")),
            "Thanks for your message — your case number is SB-000007. We will answer by 09:30 tomorrow (CET)."
        );
        let zh = format_due_local(due, now, tz, Some("zh-CN"));
        assert_eq!(zh, "明天 09:30（CET）");
        assert!(acknowledgement(CaseNumber(7), &zh, Some("zh")).contains("SB-000007"));
    }
}
