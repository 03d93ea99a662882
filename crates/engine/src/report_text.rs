//! The words of generated reports (HTML, PDF) in English or Simplified Chinese, read from the
//! UI's Fluent catalogues (`crates/web/i18n/*.ftl`, the one place UI text is kept) at compile
//! time. Only single-line messages are used; `{ $name }` placeables are filled by [`Words::fill`].

use serde::{Deserialize, Serialize};

const EN: &str = include_str!("../../web/i18n/en.ftl");
const ZH: &str = include_str!("../../web/i18n/zh-CN.ftl");

/// The language of a generated report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReportLocale {
    /// English.
    #[default]
    #[serde(rename = "en")]
    En,
    /// Simplified Chinese.
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl ReportLocale {
    /// Parses `en` or `zh-CN` (also `zh`, `zh-Hans`).
    pub fn parse(s: &str) -> Option<ReportLocale> {
        match s.trim() {
            "en" | "en-US" | "en-GB" => Some(ReportLocale::En),
            "zh-CN" | "zh" | "zh-Hans" | "zh-cn" => Some(ReportLocale::ZhCn),
            _ => None,
        }
    }

    /// `en` or `zh-CN`.
    pub fn tag(self) -> &'static str {
        match self {
            ReportLocale::En => "en",
            ReportLocale::ZhCn => "zh-CN",
        }
    }
}

/// Looks report words up in one language.
#[derive(Debug, Clone, Copy)]
pub struct Words(pub ReportLocale);

impl Words {
    /// The message `key` (its key itself when missing, which a test rules out).
    pub fn get(&self, key: &str) -> String {
        let src = match self.0 {
            ReportLocale::En => EN,
            ReportLocale::ZhCn => ZH,
        };
        src.lines()
            .find_map(|l| {
                l.strip_prefix(key).and_then(|r| r.trim_start().strip_prefix('=')).map(|v| v.trim().to_owned())
            })
            .unwrap_or_else(|| key.to_owned())
    }

    /// The message `key` with `{ $name }` placeables replaced.
    pub fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut s = self.get(key);
        for (name, value) in args {
            s = s.replace(&format!("{{ ${name} }}"), value);
        }
        s
    }

    /// The label of a summary row (`reports-m-<key>`).
    pub fn metric(&self, key: &str) -> String {
        self.get(&format!("reports-m-{}", key.replace('_', "-")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_come_from_both_catalogues() {
        let (en, zh) = (Words(ReportLocale::En), Words(ReportLocale::ZhCn));
        assert_eq!(en.metric("nps"), "NPS");
        assert_eq!(zh.metric("response_rate"), "回复率");
        assert_eq!(zh.fill("reports-doc-title", &[("period", "2026-W47")]), "服务质量报告 2026-W47");
        assert_eq!(ReportLocale::parse("zh"), Some(ReportLocale::ZhCn));
        assert_eq!(ReportLocale::parse("fr"), None);
    }
}
