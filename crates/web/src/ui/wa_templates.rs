//! The WhatsApp template picker: the approved templates an admin lists in the channel's settings
//! (`"templates": [{"name": "order_update", "language": "en_US", "body": "Your order {{1}} …"}]`,
//! copied from WhatsApp Manager), offered to agents when the 24-hour window is closed, with the
//! body filled in as they type the parameters. The thread shows the text the customer reads.

use serde::Deserialize;

/// One approved template.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Approved {
    pub name: String,
    pub language: String,
    /// The body text with `{{1}}`, `{{2}}` … placeholders.
    #[serde(default)]
    pub body: String,
}

impl Approved {
    /// The picker's value for this template.
    pub fn key(&self) -> String {
        format!("{}|{}", self.name, self.language)
    }

    /// How many body parameters it takes: the highest `{{n}}`.
    pub fn params(&self) -> usize {
        let mut most = 0;
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find("{{") {
            rest = &rest[i + 2..];
            if let Some(j) = rest.find("}}")
                && let Ok(n) = rest[..j].trim().parse::<usize>()
            {
                most = most.max(n);
            }
        }
        most
    }

    /// The body with the parameters in place (what the customer reads).
    pub fn fill(&self, params: &[&str]) -> String {
        let mut out = self.body.clone();
        for (i, p) in params.iter().enumerate() {
            out = out.replace(&format!("{{{{{}}}}}", i + 1), p);
        }
        out
    }
}

/// The channel's approved templates (none when the setting is missing or malformed).
pub(crate) fn approved(config: &serde_json::Value) -> Vec<Approved> {
    config
        .get("templates")
        .and_then(|t| serde_json::from_value::<Vec<Approved>>(t.clone()).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| !t.name.is_empty() && !t.language.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_read_counted_and_filled() {
        let cfg = serde_json::json!({"templates": [
            {"name": "order_update", "language": "en_US", "body": "Hi {{1}}, order {{2}} ships {{2}}."},
            {"name": "", "language": "en_US"},
            {"name": "hello", "language": "zh_CN"}
        ]});
        let t = approved(&cfg);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].params(), 2);
        assert_eq!(t[1].params(), 0);
        assert_eq!(t[0].key(), "order_update|en_US");
        assert_eq!(t[0].fill(&["Mia", "#4411"]), "Hi Mia, order #4411 ships #4411.");
        assert!(approved(&serde_json::json!({"templates": "nope"})).is_empty());
        assert!(approved(&serde_json::json!({})).is_empty());
    }
}
