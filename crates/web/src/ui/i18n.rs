//! The message catalogue: every UI string, in English and Simplified Chinese (Fluent).

use chrono::{DateTime, Utc};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::sync::Arc;

/// The catalogues, embedded in the binary.
pub(crate) const SOURCES: &[(Locale, &str)] =
    &[(Locale::En, include_str!("../../i18n/en.ftl")), (Locale::ZhCn, include_str!("../../i18n/zh-CN.ftl"))];

/// A language the UI speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    /// English.
    En,
    /// Simplified Chinese.
    ZhCn,
}

impl Locale {
    /// Every supported language.
    pub const ALL: [Locale; 2] = [Locale::En, Locale::ZhCn];

    /// The BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// The language's own name.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::ZhCn => "简体中文",
        }
    }

    /// A supported language for a tag (`en-GB` → English, `zh`, `zh-Hans-CN` → Chinese).
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let tag = tag.trim().to_ascii_lowercase();
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        match primary {
            "en" => Some(Locale::En),
            // Traditional Chinese is not offered; Simplified is closer than English.
            "zh" => Some(Locale::ZhCn),
            _ => None,
        }
    }

    /// The user's setting, else the best `Accept-Language` match, else English.
    pub fn negotiate(setting: Option<&str>, accept_language: Option<&str>) -> Locale {
        if let Some(l) = setting.and_then(Locale::from_tag) {
            return l;
        }
        let Some(header) = accept_language else { return Locale::En };
        let mut ranges: Vec<(f32, usize, &str)> = header
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut it = part.split(';');
                let tag = it.next()?.trim();
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map(|q| q.trim().parse::<f32>().unwrap_or(0.0))
                    .unwrap_or(1.0);
                (q > 0.0 && !tag.is_empty()).then_some((q, i, tag))
            })
            .collect();
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranges.iter().find_map(|(_, _, tag)| Locale::from_tag(tag)).unwrap_or(Locale::En)
    }
}

/// Both catalogues, parsed once.
pub struct Catalogue {
    bundles: Vec<(Locale, FluentBundle<FluentResource>)>,
}

impl Catalogue {
    /// Parses the embedded catalogues; an error names the file and the problem.
    pub fn load() -> Result<Catalogue, String> {
        let mut bundles = Vec::new();
        for (locale, src) in SOURCES {
            let res = FluentResource::try_new((*src).to_owned())
                .map_err(|(_, errs)| format!("{}.ftl does not parse: {errs:?}", locale.tag()))?;
            let lang: unic_langid::LanguageIdentifier =
                locale.tag().parse().map_err(|e| format!("bad language tag {}: {e}", locale.tag()))?;
            let mut bundle = FluentBundle::new_concurrent(vec![lang]);
            // Unicode isolation marks would show up inside HTML attributes and inputs.
            bundle.set_use_isolating(false);
            bundle.add_resource(res).map_err(|errs| format!("{}.ftl has duplicate keys: {errs:?}", locale.tag()))?;
            bundles.push((*locale, bundle));
        }
        Ok(Catalogue { bundles })
    }

    fn bundle(&self, locale: Locale) -> Option<&FluentBundle<FluentResource>> {
        self.bundles.iter().find(|(l, _)| *l == locale).map(|(_, b)| b)
    }

    /// Whether `key` exists in `locale`'s catalogue.
    pub fn has(&self, locale: Locale, key: &str) -> bool {
        self.bundle(locale).is_some_and(|b| b.has_message(key))
    }

    /// The message `key` in `locale`, formatted with `args`. A missing key renders as the key
    /// itself (the catalogue test makes sure none is missing).
    pub fn get(&self, locale: Locale, key: &str, args: Option<&FluentArgs<'_>>) -> String {
        let Some(bundle) = self.bundle(locale) else { return key.to_owned() };
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            tracing::warn!(key, locale = locale.tag(), "missing UI message");
            return key.to_owned();
        };
        let mut errors = Vec::new();
        let s = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::warn!(key, ?errors, "UI message formatting failed");
        }
        s.into_owned()
    }
}

/// One request's translator: the catalogue, the language and the time zone.
#[derive(Clone)]
pub struct Tr {
    cat: Arc<Catalogue>,
    /// The language.
    pub locale: Locale,
    /// The user's time zone.
    pub tz: chrono_tz::Tz,
}

impl Tr {
    /// A translator for `locale` in `tz`.
    pub fn new(cat: Arc<Catalogue>, locale: Locale, tz: chrono_tz::Tz) -> Tr {
        Tr { cat, locale, tz }
    }

    /// The message `key`.
    pub fn t(&self, key: &str) -> String {
        self.cat.get(self.locale, key, None)
    }

    /// The message `key` with one argument.
    pub fn t1(&self, key: &str, name: &str, value: &str) -> String {
        self.targs(key, &[(name, value)])
    }

    /// The message `key` with several arguments.
    pub fn targs(&self, key: &str, values: &[(&str, &str)]) -> String {
        let mut args = FluentArgs::new();
        for (name, value) in values {
            args.set((*name).to_owned(), FluentValue::from((*value).to_owned()));
        }
        self.cat.get(self.locale, key, Some(&args))
    }

    /// The message `key` with a number.
    pub fn tn(&self, key: &str, name: &str, n: i64) -> String {
        let mut args = FluentArgs::new();
        args.set(name.to_owned(), FluentValue::from(n));
        self.cat.get(self.locale, key, Some(&args))
    }

    /// The BCP 47 tag of the language, for `<html lang>`.
    pub fn lang(&self) -> &'static str {
        self.locale.tag()
    }

    /// A date and time in the user's time zone.
    pub fn datetime(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.tz).format("%Y-%m-%d %H:%M").to_string()
    }

    /// A short time for lists: the time today, else the date.
    pub fn short(&self, t: &DateTime<Utc>, now: &DateTime<Utc>) -> String {
        let local = t.with_timezone(&self.tz);
        if local.date_naive() == now.with_timezone(&self.tz).date_naive() {
            local.format("%H:%M").to_string()
        } else {
            local.format("%m-%d").to_string()
        }
    }
}

/// The time zone named by a user's setting, or UTC.
pub fn time_zone(name: Option<&str>) -> chrono_tz::Tz {
    name.and_then(|n| n.parse::<chrono_tz::Tz>().ok()).unwrap_or(chrono_tz::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(src: &str) -> BTreeSet<String> {
        src.lines()
            .filter(|l| !l.starts_with([' ', '#', '\t']) && l.contains(" ="))
            .filter_map(|l| l.split(" =").next().map(|k| k.trim().to_owned()))
            .collect()
    }

    /// Every key the UI uses: `.t("…")`, `.t1("…"` and `.tn("…"` calls in the templates and the
    /// UI code, error and sign-in message keys passed around as literals, and the keys built
    /// from enum values.
    fn used_keys() -> BTreeSet<String> {
        let is_key =
            |k: &str| !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit());
        let mut out = BTreeSet::new();
        for dir in ["templates", "src/ui"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            for entry in std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
                let p = entry.map(|e| e.path()).unwrap_or_default();
                let src = std::fs::read_to_string(&p).unwrap_or_default();
                for marker in [".t(\"", ".t1(\"", ".tn(\""] {
                    for (i, _) in src.match_indices(marker) {
                        let rest = &src[i + marker.len()..];
                        let key = rest.split('"').next().unwrap_or("");
                        if is_key(key) {
                            out.insert(key.to_owned());
                        }
                    }
                }
                if p.extension().is_some_and(|e| e == "rs") {
                    for lit in src.split('"').skip(1).step_by(2) {
                        if (lit.starts_with("error-") || lit.starts_with("login-")) && is_key(lit) {
                            out.insert(lit.to_owned());
                        }
                    }
                }
            }
        }
        use switchboard_domain::{DeliveryStatus, Priority, Role, Status};
        out.extend(Status::ALL.iter().map(|s| format!("status-{}", s.as_str())));
        out.extend(["status-any".to_owned(), "priority-any".to_owned(), "sort-urgency".into(), "sort-recent".into()]);
        out.extend(Priority::ALL.iter().map(|p| format!("priority-{}", p.as_str())));
        out.extend(DeliveryStatus::ALL.iter().map(|d| format!("delivery-{}", d.as_str())));
        out.extend(Role::ALL.iter().map(|r| format!("role-{}", r.as_str())));
        out.extend(switchboard_domain::sla::SlaMetric::ALL.iter().map(|m| format!("sla-{}", m.as_str())));
        out.extend(["image", "audio", "video", "location", "sticker", "file"].map(|k| format!("attachment-{k}")));
        out.extend(super::super::admin::SECTIONS.iter().map(|(_, k)| (*k).to_owned()));
        out
    }

    #[test]
    fn both_catalogues_have_the_same_keys_and_every_used_key() {
        let cat = Catalogue::load().unwrap_or_else(|e| panic!("{e}"));
        let en = keys(SOURCES[0].1);
        let zh = keys(SOURCES[1].1);
        let only_en: Vec<_> = en.difference(&zh).collect();
        let only_zh: Vec<_> = zh.difference(&en).collect();
        assert!(only_en.is_empty(), "missing in zh-CN.ftl: {only_en:?}");
        assert!(only_zh.is_empty(), "missing in en.ftl: {only_zh:?}");
        let used = used_keys();
        assert!(used.len() > 50, "the key scanner found only {} keys", used.len());
        for locale in Locale::ALL {
            let missing: Vec<_> = used.iter().filter(|k| !cat.has(locale, k)).collect();
            assert!(missing.is_empty(), "keys used by the UI but missing in {}.ftl: {missing:?}", locale.tag());
        }
    }

    #[test]
    fn chinese_is_really_chinese() {
        let cat = Catalogue::load().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cat.get(Locale::En, "nav-inbox", None), "Inbox");
        assert_eq!(cat.get(Locale::ZhCn, "nav-inbox", None), "收件箱");
    }

    #[test]
    fn language_negotiation() {
        assert_eq!(Locale::negotiate(Some("zh-CN"), Some("en")), Locale::ZhCn);
        assert_eq!(Locale::negotiate(None, Some("fr-FR, zh-CN;q=0.8, en;q=0.5")), Locale::ZhCn);
        assert_eq!(Locale::negotiate(None, Some("zh;q=0.2, en-GB;q=0.9")), Locale::En);
        assert_eq!(Locale::negotiate(Some("xx"), Some("de")), Locale::En);
        assert_eq!(Locale::negotiate(None, None), Locale::En);
        assert_eq!(Locale::negotiate(None, Some("en;q=0, zh")), Locale::ZhCn);
    }

    #[test]
    fn times_are_shown_in_the_users_zone() {
        let cat = Arc::new(Catalogue::load().unwrap_or_else(|e| panic!("{e}")));
        let tr = Tr::new(cat, Locale::En, time_zone(Some("Asia/Shanghai")));
        let t = DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default(); // 2025-11-24 16:00 UTC
        assert_eq!(tr.datetime(&t), "2025-11-25 00:00");
        assert_eq!(time_zone(Some("Not/AZone")), chrono_tz::UTC);
    }
}
