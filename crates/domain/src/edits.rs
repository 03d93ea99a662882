//! Customers editing a message they already sent (Telegram's `edited_message`): the stored message
//! shows the newest text, and every earlier text is kept with the time it was written.
//!
//! Versions can arrive in any order (an edit before its original, two edits swapped), so where a
//! version goes depends only on its time, never on when it arrived.

use chrono::{DateTime, Utc};

/// The key of `extra` that names the provider id of the message an inbound event edits.
pub const EDIT_OF: &str = "edit_of";

/// The provider id of the message this event edits, if it is an edit.
pub fn edit_target(extra: &serde_json::Map<String, serde_json::Value>) -> Option<&str> {
    extra.get(EDIT_OF).and_then(|v| v.as_str()).filter(|s| !s.is_empty())
}

/// Where an arriving version of a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionPlacement {
    /// It is newer than the text shown: the shown text (written at `previous_at`) moves to the
    /// history and the message shows the new one.
    Replace {
        /// When the text that moves to the history was written.
        previous_at: DateTime<Utc>,
    },
    /// It is older than the text shown (it arrived late): it goes into the history only.
    History,
    /// The same text at the same time is already shown: nothing changes.
    Unchanged,
}

/// Decides where a version written at `version_at` goes, given the text shown now and when that
/// text was written (`shown_at`: the last edit's time, or the message's own).
pub fn place_version(
    shown_text: &str,
    shown_at: DateTime<Utc>,
    version_text: &str,
    version_at: DateTime<Utc>,
) -> VersionPlacement {
    if version_at > shown_at {
        if version_text == shown_text {
            // A newer edit that changed only what we do not keep (formatting, media): no new text.
            return VersionPlacement::Unchanged;
        }
        VersionPlacement::Replace { previous_at: shown_at }
    } else if version_at == shown_at && version_text == shown_text {
        VersionPlacement::Unchanged
    } else if version_at == shown_at {
        // Two texts in the same second (provider clocks count whole seconds): the later arrival wins.
        VersionPlacement::Replace { previous_at: shown_at }
    } else {
        VersionPlacement::History
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap_or_default()
    }

    #[test]
    fn a_newer_edit_replaces_the_shown_text() {
        assert_eq!(place_version("hi", t(0), "hello", t(5)), VersionPlacement::Replace { previous_at: t(0) });
    }

    #[test]
    fn a_late_original_goes_to_the_history_only() {
        assert_eq!(place_version("hello", t(5), "hi", t(0)), VersionPlacement::History);
    }

    #[test]
    fn the_same_version_again_changes_nothing() {
        assert_eq!(place_version("hello", t(5), "hello", t(5)), VersionPlacement::Unchanged);
        assert_eq!(place_version("hello", t(5), "hello", t(9)), VersionPlacement::Unchanged);
    }

    #[test]
    fn two_texts_in_one_second_keep_both() {
        assert_eq!(place_version("a", t(5), "b", t(5)), VersionPlacement::Replace { previous_at: t(5) });
    }

    #[test]
    fn the_target_is_read_from_extra() {
        let mut extra = serde_json::Map::new();
        assert_eq!(edit_target(&extra), None);
        extra.insert(EDIT_OF.into(), serde_json::json!("msg:1:2"));
        assert_eq!(edit_target(&extra), Some("msg:1:2"));
        extra.insert(EDIT_OF.into(), serde_json::json!(""));
        assert_eq!(edit_target(&extra), None);
    }
}
