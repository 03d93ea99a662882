//! Public-holiday feeds in iCalendar (RFC 5545): each all-day event becomes a closed date.

use chrono::{Duration, NaiveDate};
use icalendar::{Calendar, CalendarComponent, Component, DatePerhapsTime};
use switchboard_domain::calendar::SpecialDate;

/// Longest accepted feed, in bytes.
pub const MAX_FEED_BYTES: usize = 2 * 1024 * 1024;
/// Most days one event may close (a "holiday" longer than this is a mistake in the feed).
const MAX_EVENT_DAYS: i64 = 31;

/// Why a feed is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcsError {
    /// Not iCalendar.
    #[error("not an iCalendar feed: {0}")]
    Parse(String),
    /// Too large.
    #[error("the feed is larger than {MAX_FEED_BYTES} bytes")]
    TooLarge,
    /// No all-day events.
    #[error("the feed has no all-day events (holidays are DTSTART;VALUE=DATE events)")]
    Empty,
}

/// The closed dates of a holiday feed, sorted and unique. An event with `DTEND` closes every date
/// up to the day before it (RFC 5545: the end date is exclusive). Timed events are ignored.
pub fn holidays(text: &str) -> Result<Vec<SpecialDate>, IcsError> {
    if text.len() > MAX_FEED_BYTES {
        return Err(IcsError::TooLarge);
    }
    if !text.trim_start().starts_with("BEGIN:VCALENDAR") {
        return Err(IcsError::Parse("it does not start with BEGIN:VCALENDAR".into()));
    }
    let cal: Calendar = text.parse().map_err(|e: String| IcsError::Parse(e.chars().take(200).collect()))?;
    let mut out: Vec<SpecialDate> = Vec::new();
    for c in &cal.components {
        let CalendarComponent::Event(e) = c else { continue };
        let Some(DatePerhapsTime::Date(start)) = e.get_start() else { continue };
        let end = match e.get_end() {
            Some(DatePerhapsTime::Date(end)) if end > start => end,
            _ => start + Duration::days(1),
        };
        let days = (end - start).num_days().min(MAX_EVENT_DAYS);
        let name: String = e.get_summary().unwrap_or("holiday").chars().take(200).collect();
        for d in 0..days {
            let date: NaiveDate = start + Duration::days(d);
            out.push(SpecialDate { date, name: name.clone(), intervals: vec![] });
        }
    }
    out.sort_by_key(|s| s.date);
    out.dedup_by_key(|s| s.date);
    if out.is_empty() {
        return Err(IcsError::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FEED: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//holidays//EN\r\n\
        BEGIN:VEVENT\r\nUID:a\r\nDTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261227\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:b\r\nDTSTART;VALUE=DATE:20261001\r\nSUMMARY:国庆节\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:c\r\nDTSTART:20261002T100000Z\r\nDTEND:20261002T110000Z\r\nSUMMARY:Meeting\r\nEND:VEVENT\r\n\
        END:VCALENDAR\r\n";

    #[test]
    fn all_day_events_become_closed_dates() {
        let h = holidays(FEED).expect("feed");
        let dates: Vec<String> = h.iter().map(|s| s.date.to_string()).collect();
        assert_eq!(dates, ["2026-10-01", "2026-12-25", "2026-12-26"]);
        assert_eq!(h[0].name, "国庆节");
        assert!(h.iter().all(|s| s.intervals.is_empty()));
    }

    #[test]
    fn bad_feeds_are_refused() {
        assert!(matches!(holidays("hello"), Err(IcsError::Parse(_))));
        let only_timed = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:c\r\nDTSTART:20261002T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert_eq!(holidays(only_timed), Err(IcsError::Empty));
        assert_eq!(holidays(&"x".repeat(MAX_FEED_BYTES + 1)), Err(IcsError::TooLarge));
    }

    proptest! {
        /// No input makes the parser panic.
        #[test]
        fn never_panics(s in "BEGIN:VCALENDAR\\r\\n(.{0,40}\\r\\n){0,8}") {
            let _ = holidays(&s);
        }
    }
}
