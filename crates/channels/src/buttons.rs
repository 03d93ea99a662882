//! Interactive choices ("buttons"), the same on every channel.
//!
//! Outbound, a reply asks for choices with `payload.buttons = [{"text": "Yes", "data":
//! "bot:helped:…"}, …]` (the payload may carry other keys). Each provider shows them its own way
//! (Telegram inline keyboard, WhatsApp reply buttons or a list, Messenger/Instagram quick
//! replies) and falls back to a numbered list in the text where it has nothing that fits.
//!
//! Inbound, a pressed button becomes a message whose text is the button's label and whose
//! `extra["button_data"]` is the button's `data`.

use serde_json::Value;
use switchboard_domain::InboundEvent;

use crate::SendError;

/// The inbound event key holding a pressed button's data.
pub const BUTTON_DATA: &str = "button_data";

/// Most buttons a reply may ask for.
pub const MAX_BUTTONS: usize = 20;

/// Longest `data` of a button (Meta's quick-reply payload allows 1000, WhatsApp ids 256;
/// Telegram 64 bytes is checked by its sender).
pub const MAX_DATA: usize = 256;

/// One choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    /// The label the customer sees.
    pub text: String,
    /// What comes back when it is pressed.
    pub data: String,
}

/// The buttons a reply payload asks for (none when it asks for none). A malformed list is a
/// permanent error naming the problem.
pub fn from_payload(payload: Option<&Value>) -> Result<Vec<Button>, SendError> {
    let Some(list) = payload.and_then(|p| p.get("buttons")) else { return Ok(vec![]) };
    let bad = |why: String| SendError::Permanent(format!("payload.buttons: {why}"));
    let list = list.as_array().ok_or_else(|| bad("must be a list".into()))?;
    if list.len() > MAX_BUTTONS {
        return Err(bad(format!("{} buttons; at most {MAX_BUTTONS}", list.len())));
    }
    list.iter()
        .enumerate()
        .map(|(i, b)| {
            let text = b.get("text").and_then(Value::as_str).map(str::trim).unwrap_or("");
            if text.is_empty() {
                return Err(bad(format!("button {} has no text", i + 1)));
            }
            let data = b.get("data").and_then(Value::as_str).unwrap_or(text);
            if data.is_empty() || data.len() > MAX_DATA {
                return Err(bad(format!("button {} data must be 1 to {MAX_DATA} bytes", i + 1)));
            }
            Ok(Button { text: text.to_owned(), data: data.to_owned() })
        })
        .collect()
}

/// The numbered fallback: the text, then one line per choice (`1. Yes`). Choices that are
/// numbers themselves (an NPS scale `0`…`10`) are listed as they are, on one line (`0 · 1 · …`):
/// numbering them too would show `2. 1`, and a customer who types `1` would be read as choosing
/// the number the question asked for, not the first item.
pub fn numbered(text: &str, buttons: &[Button]) -> String {
    let mut out = text.trim_end().to_owned();
    if buttons.is_empty() {
        return out;
    }
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    if buttons.iter().all(|b| b.text.parse::<i64>().is_ok()) {
        out.push_str(&buttons.iter().map(|b| b.text.as_str()).collect::<Vec<_>>().join(" · "));
        return out;
    }
    let lines: Vec<String> = buttons.iter().enumerate().map(|(i, b)| format!("{}. {}", i + 1, b.text)).collect();
    out.push_str(&lines.join("\n"));
    out
}

/// Whether every label fits in `max` characters.
pub fn labels_fit(buttons: &[Button], max: usize) -> bool {
    buttons.iter().all(|b| b.text.chars().count() <= max)
}

/// Marks an inbound event as a pressed button: the text is its label, `button_data` its data.
pub fn pressed(ev: &mut InboundEvent, label: &str, data: &str) {
    ev.text = if label.trim().is_empty() { data.to_owned() } else { label.to_owned() };
    ev.extra.insert(BUTTON_DATA.into(), Value::String(data.to_owned()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payload_buttons_are_read_and_checked() {
        let p = json!({"buttons": [{"text": "Yes", "data": "csat:5"}, {"text": "No"}], "other": 1});
        let b = from_payload(Some(&p)).unwrap_or_default();
        assert_eq!(
            b,
            vec![Button { text: "Yes".into(), data: "csat:5".into() }, Button { text: "No".into(), data: "No".into() }]
        );
        assert!(from_payload(Some(&json!({"buttons": [{"data": "x"}]}))).is_err());
        assert!(from_payload(Some(&json!({"buttons": "yes"}))).is_err());
        assert_eq!(from_payload(Some(&json!({"type": "template"}))).map(|b| b.len()), Ok(0));
        assert_eq!(numbered("Did this help?", &b), "Did this help?\n\n1. Yes\n2. No");
    }

    #[test]
    fn a_scale_of_numbers_is_listed_without_item_numbers() {
        let scale: Vec<Button> = (0..=10).map(|n| Button { text: n.to_string(), data: format!("nps:x:{n}") }).collect();
        assert_eq!(numbered("How likely?", &scale), "How likely?\n\n0 · 1 · 2 · 3 · 4 · 5 · 6 · 7 · 8 · 9 · 10");
        let mixed =
            vec![Button { text: "1".into(), data: "a".into() }, Button { text: "Later".into(), data: "b".into() }];
        assert_eq!(numbered("", &mixed), "1. 1\n2. Later");
    }
}
