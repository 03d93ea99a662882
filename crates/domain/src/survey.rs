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
    /// The comment also says the problem is not over or asks for something ("5 stars but still no
    /// refund", "4, where is my invoice?"): the score is recorded *and* the message goes to the
    /// conversation like any other, so a person sees it.
    pub follow_up: bool,
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
    ("十分不满意", 1),
    ("very dissatisfied", 1),
    ("very unhappy", 1),
    ("very poor", 1),
    ("very bad", 1),
    ("terrible", 1),
    ("horrible", 1),
    ("awful", 1),
    ("很不满意", 1),
    ("非常满意", 5),
    ("十分满意", 5),
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
/// the comment. `None` when the text does not start with a score of this survey:
///
/// * a bare number must stand alone or be followed by punctuation ("5", "4 - quick", "2, slow")
///   or by a word of judgement ("5 thanks", "2 too slow"); a number that opens a sentence ("2
///   items are missing", "3 days and still waiting", "2个包裹没收到") is not a score;
/// * a number with a scale must use the survey's scale ("4/5" answers CSAT, not NPS; "8/10"
///   answers NPS, not CSAT); with a unit ("5 stars", "4分") anything may follow;
/// * stars and words of judgement ("⭐⭐⭐⭐", "very good", "不满意") may be followed by anything.
///
/// [`ParsedAnswer::follow_up`] tells whether the comment still asks for something.
pub fn parse_answer(kind: SurveyKind, text: &str) -> Option<ParsedAnswer> {
    let t = text.trim();
    let number = leading_number(t).and_then(|(n, rest, form)| match form {
        Form::Scale(max) => (max == kind.range().1).then_some((n, rest)),
        Form::Unit => Some((n, rest)),
        Form::Bare => stands_alone(rest).then_some((n, rest)),
    });
    // "十分满意" opens with "ten points" but means "very satisfied": a number that is no score
    // of this survey leaves the words to try.
    let (score, rest) =
        number.filter(|(n, _)| kind.valid(*n)).or_else(|| leading_stars(t)).or_else(|| leading_word(kind, t))?;
    if !kind.valid(score) {
        return None;
    }
    let comment = rest.trim_start_matches(|c: char| c.is_whitespace() || SEPARATORS.contains(c)).trim().to_owned();
    let follow_up = asks_for_more(&comment);
    Some(ParsedAnswer { score, comment, follow_up })
}

/// Punctuation between a score and its comment.
const SEPARATORS: &str = ",.;:!-–—)，。；：！、";

/// Words of judgement that may follow a bare number ("5 thanks", "2 too slow"), lower case.
const JUDGEMENT: &[&str] = &[
    "thanks",
    "thank",
    "thx",
    "ty",
    "great",
    "good",
    "excellent",
    "perfect",
    "awesome",
    "amazing",
    "nice",
    "fantastic",
    "brilliant",
    "super",
    "helpful",
    "quick",
    "fast",
    "slow",
    "too",
    "bad",
    "poor",
    "terrible",
    "horrible",
    "awful",
    "ok",
    "okay",
    "fine",
    "meh",
    "love",
    "loved",
    "happy",
    "unhappy",
    "satisfied",
    "dissatisfied",
    "disappointed",
    "friendly",
    "rude",
    "谢谢",
    "感谢",
    "多谢",
    "很",
    "非常",
    "太",
    "挺",
    "满意",
    "不满意",
    "不错",
    "好",
    "一般",
    "差",
    "慢",
    "快",
    "棒",
    "赞",
];

/// Whether what follows a bare number leaves it a score: nothing, punctuation, a new line, an
/// emoji or a word of judgement.
fn stands_alone(rest: &str) -> bool {
    let r = rest.trim_start_matches([' ', '\t']);
    let Some(first) = r.chars().next() else { return true };
    if first == '\n' || first == '\r' || SEPARATORS.contains(first) {
        return true;
    }
    // Emoji and other symbols ("5 👍", "2 😞").
    if !first.is_alphanumeric() && !first.is_ascii_punctuation() && !first.is_whitespace() {
        return true;
    }
    let lower = r.to_lowercase();
    JUDGEMENT.iter().any(|w| {
        lower.strip_prefix(w).is_some_and(|after| {
            // Whole words for Latin words ("goodbye" is not "good", "tyre" is not "ty").
            !w.is_ascii() || !after.chars().next().is_some_and(char::is_alphanumeric)
        })
    })
}

/// Words that show the customer still needs something (lower case): the answer is recorded and
/// the message is threaded too.
const STILL_NEEDS: &[&str] = &[
    "?",
    "？",
    "still",
    "yet",
    "again",
    "please",
    "pls",
    "not received",
    "never received",
    "never arrived",
    "not arrived",
    "hasn't",
    "haven't",
    "has not",
    "have not",
    "didn't",
    "did not",
    "doesn't work",
    "not working",
    "not fixed",
    "not resolved",
    "unresolved",
    "where is",
    "where's",
    "when will",
    "can you",
    "could you",
    "can i",
    "how do i",
    "no refund",
    "refund",
    "reopen",
    "还没",
    "还是没",
    "仍然",
    "依然",
    "没收到",
    "没有收到",
    "未收到",
    "没解决",
    "没有解决",
    "未解决",
    "请",
    "吗",
    "怎么",
    "什么时候",
    "能不能",
    "可以",
    "退款",
];

/// Whether a comment still asks for something.
fn asks_for_more(comment: &str) -> bool {
    let c = comment.to_lowercase();
    STILL_NEEDS.iter().any(|w| {
        if !w.is_ascii() || !w.chars().all(char::is_alphanumeric) {
            return c.contains(w);
        }
        // Whole words for single Latin words ("yesterday" is not "yet").
        c.match_indices(w).any(|(i, _)| {
            let before = c[..i].chars().next_back();
            let after = c[i + w.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
    })
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

/// How a leading number was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `4/5`, `9 out of 10`: the scale's top.
    Scale(i32),
    /// `5 stars`, `4分`.
    Unit,
    /// Just the number.
    Bare,
}

/// `5`, `10/10`, `4 / 5`, `4 out of 5`, `５`, `五`, `十分`, `4分`, `5 stars`.
fn leading_number(t: &str) -> Option<(i32, &str, Form)> {
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
    let mut form = Form::Bare;
    // "/10", "/ 5", "out of 10", "of 5".
    let trimmed = rest.trim_start();
    for sep in ["/", "out of", "of"] {
        if let Some(after) = trimmed.strip_prefix(sep) {
            let after = after.trim_start();
            let len = after.chars().take_while(|c| digit(*c).is_some()).map(char::len_utf8).sum::<usize>();
            if len > 0 {
                let max: i32 = after[..len]
                    .chars()
                    .filter_map(digit)
                    .try_fold(0i32, |a, d| a.checked_mul(10).and_then(|a| a.checked_add(d as i32)))?;
                rest = &after[len..];
                form = Form::Scale(max);
            }
            break;
        }
    }
    // "分", "stars", "星" (after a scale too: "4/5 stars").
    let trimmed = rest.trim_start();
    for unit in ["分", "颗星", "星", "stars", "star", "points", "pts"] {
        if let Some(after) = trimmed.strip_prefix(unit)
            && !(unit.is_ascii() && after.chars().next().is_some_and(char::is_alphanumeric))
        {
            rest = after;
            if form == Form::Bare {
                form = Form::Unit;
            }
            break;
        }
    }
    Some((n, rest, form))
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

    fn parsed(kind: SurveyKind, t: &str) -> Option<(i32, String, bool)> {
        parse_answer(kind, t).map(|a| (a.score, a.comment, a.follow_up))
    }

    #[test]
    fn a_number_opening_a_sentence_is_not_a_score() {
        // Quantities, order numbers and durations stay messages for the agents.
        for t in [
            "2 items are missing from my order",
            "3 days and still waiting",
            "5 is late",
            "my order 5 is late",
            "2个包裹没收到",
            "3天了还没到",
            "1 more question",
            "5 starving kids",
        ] {
            assert_eq!(parsed(SurveyKind::Csat, t), None, "{t}");
            assert_eq!(parsed(SurveyKind::Nps, t), None, "{t}");
        }
        // A bare number with punctuation, a new line, an emoji or a judgement is a score.
        assert_eq!(parsed(SurveyKind::Csat, "2"), Some((2, String::new(), false)));
        assert_eq!(parsed(SurveyKind::Csat, "2, too slow"), Some((2, "too slow".into(), false)));
        assert_eq!(parsed(SurveyKind::Csat, "5 thanks!"), Some((5, "thanks!".into(), false)));
        assert_eq!(parsed(SurveyKind::Csat, "5\ngreat team"), Some((5, "great team".into(), false)));
        assert_eq!(parsed(SurveyKind::Csat, "5 👍"), Some((5, "👍".into(), false)));
        assert_eq!(parsed(SurveyKind::Csat, "5很好"), Some((5, "很好".into(), false)));
        assert_eq!(parsed(SurveyKind::Nps, "9 great service"), Some((9, "great service".into(), false)));
    }

    #[test]
    fn a_score_with_a_complaint_is_recorded_and_followed_up() {
        assert_eq!(
            parsed(SurveyKind::Csat, "5 stars but still no refund"),
            Some((5, "but still no refund".into(), true))
        );
        assert_eq!(
            parsed(SurveyKind::Csat, "4/5, where is my invoice?"),
            Some((4, "where is my invoice?".into(), true))
        );
        assert_eq!(parsed(SurveyKind::Csat, "2分，退款还没到"), Some((2, "退款还没到".into(), true)));
        assert_eq!(
            parsed(SurveyKind::Csat, "bad, it broke again"),
            Some((2, "it broke again".into(), true)),
            "a word score too"
        );
        // Plain feedback, even critical, is not a request.
        assert_eq!(
            parsed(SurveyKind::Csat, "4 - fast, but I had to repeat my order number"),
            Some((4, "fast, but I had to repeat my order number".into(), false))
        );
        assert_eq!(
            parsed(SurveyKind::Csat, "5 stars, yesterday's agent was great"),
            Some((5, "yesterday's agent was great".into(), false))
        );
    }

    #[test]
    fn a_scale_must_be_the_surveys() {
        assert_eq!(parsed(SurveyKind::Csat, "4/5").map(|a| a.0), Some(4));
        assert_eq!(parsed(SurveyKind::Nps, "4/5"), None, "4 of 5 is no NPS answer");
        assert_eq!(parsed(SurveyKind::Nps, "8/10").map(|a| a.0), Some(8));
        assert_eq!(parsed(SurveyKind::Csat, "8/10"), None);
        assert_eq!(parsed(SurveyKind::Csat, "3 out of 5 stars").map(|a| a.0), Some(3));
        assert_eq!(parsed(SurveyKind::Csat, "十分满意").map(|a| a.0), Some(5), "very satisfied, not ten points");
        assert_eq!(parsed(SurveyKind::Nps, "十分").map(|a| a.0), Some(10));
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
