//! Satisfaction surveys: CSAT (1–5) and NPS (0–10), their button data and the parsing of typed
//! answers ("5", "五", "⭐⭐⭐⭐", "very good", "非常满意", "10/10").

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::string_enum;

string_enum!(
    /// Which question a survey asks.
    SurveyKind, "survey kind" {
        /// Customer satisfaction, 1 (very dissatisfied) – 5 (very satisfied).
        Csat => "csat",
        /// Net promoter score, 0 – 10 ("how likely are you to recommend us").
        Nps => "nps",
    }
);

impl SurveyKind {
    /// Lowest and highest score.
    pub fn range(self) -> (i32, i32) {
        match self {
            SurveyKind::Csat => (1, 5),
            SurveyKind::Nps => (0, 10),
        }
    }

    /// Whether `n` is a valid score.
    pub fn valid(self, n: i32) -> bool {
        let (lo, hi) = self.range();
        (lo..=hi).contains(&n)
    }
}

/// The answer a button press or a typed message carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedAnswer {
    /// The score.
    pub score: i32,
    /// What the customer wrote besides the score (empty when nothing).
    pub comment: String,
}

/// The `data` of the button for score `n` of survey `id`: `csat:<id>:<n>` / `nps:<id>:<n>`.
pub fn button_data(kind: SurveyKind, id: Uuid, n: i32) -> String {
    format!("{}:{id}:{n}", kind.as_str())
}

/// Parses button data made by [`button_data`]; `None` for anything else (other prefixes, bad ids,
/// scores out of range).
pub fn parse_button_data(s: &str) -> Option<(SurveyKind, Uuid, i32)> {
    let mut it = s.splitn(3, ':');
    let kind: SurveyKind = it.next()?.parse().ok()?;
    let id = Uuid::parse_str(it.next()?).ok()?;
    let n: i32 = it.next()?.trim().parse().ok()?;
    kind.valid(n).then_some((kind, id, n))
}

/// Words that give a CSAT score, longest first so "very good" wins over "good".
const CSAT_WORDS: &[(&str, i32)] = &[
    ("非常不满意", 1),
    ("very dissatisfied", 1),
    ("very unhappy", 1),
    ("very poor", 1),
    ("very bad", 1),
    ("terrible", 1),
    ("horrible", 1),
    ("awful", 1),
    ("很不满意", 1),
    ("非常满意", 5),
    ("very satisfied", 5),
    ("very happy", 5),
    ("very good", 5),
    ("excellent", 5),
    ("perfect", 5),
    ("amazing", 5),
    ("很满意", 5),
    ("非常好", 5),
    ("dissatisfied", 2),
    ("not good", 2),
    ("unhappy", 2),
    ("不满意", 2),
    ("poor", 2),
    ("bad", 2),
    ("差", 2),
    ("not bad", 3),
    ("average", 3),
    ("neutral", 3),
    ("okay", 3),
    ("ok", 3),
    ("一般", 3),
    ("还行", 3),
    ("satisfied", 4),
    ("great", 4),
    ("happy", 4),
    ("good", 4),
    ("满意", 4),
    ("不错", 4),
    ("好", 4),
];

/// Parses a typed answer to a survey of `kind`. The score must open the message; what follows is
/// the comment. `None` when the text does not start with a valid score.
pub fn parse_answer(kind: SurveyKind, text: &str) -> Option<ParsedAnswer> {
    let t = text.trim();
    let (score, rest) = leading_number(t).or_else(|| leading_stars(t)).or_else(|| leading_word(kind, t))?;
    if !kind.valid(score) {
        return None;
    }
    let comment =
        rest.trim_start_matches(|c: char| c.is_whitespace() || ",.;:!-–—，。；：！、".contains(c)).trim().to_owned();
    Some(ParsedAnswer { score, comment })
}

fn digit(c: char) -> Option<u32> {
    match c {
        '0'..='9' => c.to_digit(10),
        '０'..='９' => Some(c as u32 - '０' as u32),
        _ => None,
    }
}

fn chinese_digit(c: char) -> Option<i32> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        '十' => 10,
        _ => return None,
    })
}

/// `5`, `10/10`, `4 / 5`, `4 out of 5`, `５`, `五`, `十分`, `4分`, `5 stars`.
fn leading_number(t: &str) -> Option<(i32, &str)> {
    let mut chars = t.char_indices().peekable();
    let mut n: i32 = 0;
    let mut end = 0;
    let mut any = false;
    while let Some(&(i, c)) = chars.peek() {
        if let Some(d) = digit(c) {
            n = n.checked_mul(10)?.checked_add(d as i32)?;
            end = i + c.len_utf8();
            any = true;
            chars.next();
        } else {
            break;
        }
    }
    if !any {
        let c = t.chars().next()?;
        n = chinese_digit(c)?;
        end = c.len_utf8();
        // 十 followed by nothing numeric is ten; "十一" and beyond are not scores.
        if t[end..].chars().next().and_then(chinese_digit).is_some() {
            return None;
        }
    }
    let mut rest = &t[end..];
    // A number glued to letters ("5th", "2pm") is not a score.
    if rest
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' && rest[1..].starts_with(|d: char| d.is_ascii_digit()))
    {
        return None;
    }
    // "/10", "/ 5", "out of 10", "分", "stars", "星".
    let trimmed = rest.trim_start();
    for sep in ["/", "out of", "of"] {
        if let Some(after) = trimmed.strip_prefix(sep) {
            let after = after.trim_start();
            let len = after.chars().take_while(|c| digit(*c).is_some()).map(char::len_utf8).sum::<usize>();
            if len > 0 {
                rest = &after[len..];
            }
            break;
        }
    }
    let trimmed = rest.trim_start();
    for unit in ["分", "颗星", "星", "stars", "star", "points", "pts"] {
        if let Some(after) = trimmed.strip_prefix(unit) {
            rest = after;
            break;
        }
    }
    Some((n, rest))
}

/// `⭐⭐⭐⭐`, `★★★★☆`.
fn leading_stars(t: &str) -> Option<(i32, &str)> {
    let mut n = 0;
    let mut end = 0;
    for (i, c) in t.char_indices() {
        match c {
            '⭐' | '★' | '🌟' => n += 1,
            '☆' | '\u{fe0f}' => {}
            _ if c.is_whitespace() => {}
            _ => break,
        }
        end = i + c.len_utf8();
    }
    (n > 0).then(|| (n, &t[end..]))
}

fn leading_word(kind: SurveyKind, t: &str) -> Option<(i32, &str)> {
    if kind != SurveyKind::Csat {
        return None;
    }
    let lower = t.to_lowercase();
    for &(w, n) in CSAT_WORDS {
        if let Some(rest_lower) = lower.strip_prefix(w) {
            // Whole words only for Latin words ("goodbye" is not "good").
            if w.is_ascii() && rest_lower.chars().next().is_some_and(|c| c.is_alphanumeric()) {
                continue;
            }
            // Lower-casing can change byte lengths; find the same char count in the original.
            let chars = w.chars().count();
            let cut = t.char_indices().nth(chars).map_or(t.len(), |(i, _)| i);
            return Some((n, &t[cut..]));
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn csat(t: &str) -> Option<i32> {
        parse_answer(SurveyKind::Csat, t).map(|a| a.score)
    }

    #[test]
    fn typed_answers_in_many_forms() {
        assert_eq!(csat("5"), Some(5));
        assert_eq!(csat(" 4 "), Some(4));
        assert_eq!(csat("五"), Some(5));
        assert_eq!(csat("５"), Some(5));
        assert_eq!(csat("⭐⭐⭐⭐"), Some(4));
        assert_eq!(csat("★★★☆☆"), Some(3));
        assert_eq!(csat("very good"), Some(5));
        assert_eq!(csat("Very Good!"), Some(5));
        assert_eq!(csat("good"), Some(4));
        assert_eq!(csat("非常满意"), Some(5));
        assert_eq!(csat("不满意"), Some(2));
        assert_eq!(csat("非常不满意"), Some(1));
        assert_eq!(csat("4/5"), Some(4));
        assert_eq!(csat("4分"), Some(4));
        assert_eq!(parse_answer(SurveyKind::Nps, "10/10").map(|a| a.score), Some(10));
        assert_eq!(parse_answer(SurveyKind::Nps, "十").map(|a| a.score), Some(10));
        assert_eq!(parse_answer(SurveyKind::Nps, "0").map(|a| a.score), Some(0));
        assert_eq!(parse_answer(SurveyKind::Nps, "9 out of 10").map(|a| a.score), Some(9));
    }

    #[test]
    fn what_is_not_an_answer() {
        assert_eq!(csat("6"), None);
        assert_eq!(csat("0"), None);
        assert_eq!(csat("goodbye"), None);
        assert_eq!(csat("my order 12345 is late"), None);
        assert_eq!(csat("5th time I ask"), None);
        assert_eq!(csat(""), None);
        assert_eq!(parse_answer(SurveyKind::Nps, "11"), None);
        assert_eq!(parse_answer(SurveyKind::Nps, "very good"), None);
        assert_eq!(parse_answer(SurveyKind::Nps, "十一"), None);
        assert_eq!(csat("99999999999999999999"), None);
    }

    #[test]
    fn comments_follow_the_score() {
        let a = parse_answer(SurveyKind::Csat, "4 - fast, but I had to repeat my order number").unwrap();
        assert_eq!(a.score, 4);
        assert_eq!(a.comment, "fast, but I had to repeat my order number");
        let a = parse_answer(SurveyKind::Csat, "非常满意，谢谢！").unwrap();
        assert_eq!((a.score, a.comment.as_str()), (5, "谢谢！"));
        assert_eq!(parse_answer(SurveyKind::Csat, "5").unwrap().comment, "");
    }

    #[test]
    fn button_data_round_trips() {
        let id = Uuid::now_v7();
        let d = button_data(SurveyKind::Nps, id, 9);
        assert_eq!(parse_button_data(&d), Some((SurveyKind::Nps, id, 9)));
        assert_eq!(parse_button_data(&format!("csat:{id}:6")), None);
        assert_eq!(parse_button_data("bot:helped:x"), None);
        assert_eq!(parse_button_data("csat:not-a-uuid:3"), None);
    }
}
