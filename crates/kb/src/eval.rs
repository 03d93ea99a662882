//! Offline evaluation of retrieval and of the bot's answer/handoff decision on labelled
//! question → article sets (`switchboard kb eval`, docs/kb-bot.md).
//!
//! An intent data set becomes a knowledge base with one article per intent: the title is the
//! intent's name, the body its training phrasings. The held-out questions are then searched:
//! MRR@5 and recall@1 measure retrieval; the bot's rule (answer when the confidence reaches the
//! threshold, else hand off) is scored on in-scope questions (answered correctly, answered
//! wrongly, handed off) and on out-of-scope ones (`oos`: handing off is right).

use std::collections::BTreeMap;

use switchboard_store::kb::{Article, ArticleId, ArticleStatus, Translation};

use crate::index::{IndexError, KbIndex};

/// A labelled question: the article slug it should find (`oos`: none should answer it).
#[derive(Debug, Clone)]
pub struct Question {
    pub label: String,
    pub text: String,
}

/// Label of questions no article answers.
pub const OUT_OF_SCOPE: &str = "oos";

/// Articles made from `(intent, phrasing)` examples: one per intent, in `locale`.
pub fn articles_from_examples(examples: &[(String, String)], locale: &str) -> Vec<Article> {
    let mut by_label: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (l, t) in examples {
        if l != OUT_OF_SCOPE {
            by_label.entry(l).or_default().push(t);
        }
    }
    let now = chrono::Utc::now();
    by_label
        .into_iter()
        .enumerate()
        .map(|(i, (label, texts))| Article {
            id: ArticleId(uuid::Uuid::from_u128(i as u128 + 1)),
            slug: label.replace('_', "-"),
            category: "eval".into(),
            tags: Vec::new(),
            intents: vec![label.to_owned()],
            translations: vec![Translation {
                locale: locale.into(),
                title: label.replace('_', " "),
                body: texts.iter().map(|t| format!("- {t}")).collect::<Vec<_>>().join("\n"),
                status: ArticleStatus::Published,
                version: 1,
                updated_at: now,
            }],
            created_at: now,
            updated_at: now,
        })
        .collect()
}

/// What an evaluation measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// In-scope questions.
    pub questions: usize,
    pub out_of_scope: usize,
    pub mrr_at_5: f64,
    pub recall_at_1: f64,
    pub recall_at_5: f64,
    /// Per threshold: (threshold, answered-correct rate, answered-wrong rate, handed-off rate on
    /// in-scope, handed-off rate on out-of-scope).
    pub decisions: Vec<(f32, f64, f64, f64, f64)>,
}

/// Searches every question in `locale` and scores the results. A question's label is compared
/// with the hits' slugs (underscores and hyphens are the same).
pub fn evaluate(
    index: &KbIndex,
    questions: &[Question],
    locale: &str,
    thresholds: &[f32],
) -> Result<Report, IndexError> {
    let norm = |s: &str| s.replace('_', "-");
    let mut r = Report::default();
    let (mut rr, mut at1, mut at5) = (0f64, 0usize, 0usize);
    // (confidence, top hit correct) of in-scope questions; confidences of out-of-scope ones.
    let mut ins: Vec<(f32, bool)> = Vec::new();
    let mut oos: Vec<f32> = Vec::new();
    for q in questions {
        let res = index.search(&q.text, locale, 5)?;
        if q.label == OUT_OF_SCOPE {
            r.out_of_scope += 1;
            oos.push(if res.hits.is_empty() { 0.0 } else { res.confidence });
            continue;
        }
        r.questions += 1;
        let want = norm(&q.label);
        let rank = res.hits.iter().position(|h| h.slug == want);
        if let Some(p) = rank {
            rr += 1.0 / (p as f64 + 1.0);
            at5 += 1;
            if p == 0 {
                at1 += 1;
            }
        }
        ins.push((if res.hits.is_empty() { 0.0 } else { res.confidence }, rank == Some(0)));
    }
    let n = r.questions.max(1) as f64;
    r.mrr_at_5 = rr / n;
    r.recall_at_1 = at1 as f64 / n;
    r.recall_at_5 = at5 as f64 / n;
    for &t in thresholds {
        let right = ins.iter().filter(|(c, ok)| *c >= t && *ok).count() as f64 / n;
        let wrong = ins.iter().filter(|(c, ok)| *c >= t && !*ok).count() as f64 / n;
        let handed = ins.iter().filter(|(c, _)| *c < t).count() as f64 / n;
        let oos_handed = oos.iter().filter(|c| **c < t).count() as f64 / r.out_of_scope.max(1) as f64;
        r.decisions.push((t, right, wrong, handed, oos_handed));
    }
    Ok(r)
}

/// Reads a `label<TAB>text` file with a header line.
pub fn read_tsv(text: &str) -> Vec<(String, String)> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.trim().to_owned(), b.trim().to_owned()))
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn scores_a_small_set() {
        let ex: Vec<(String, String)> = [
            ("refund", "how do I get my money back"),
            ("refund", "refund my order"),
            ("track", "where is my parcel"),
            ("track", "track my package"),
        ]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
        let idx = KbIndex::open(None).unwrap();
        idx.rebuild(&articles_from_examples(&ex, "en")).unwrap();
        let qs = vec![
            Question { label: "refund".into(), text: "I want a refund".into() },
            Question { label: "track".into(), text: "where is the package".into() },
            Question { label: OUT_OF_SCOPE.into(), text: "tell me a joke".into() },
        ];
        let r = evaluate(&idx, &qs, "en", &[0.5]).unwrap();
        assert_eq!((r.questions, r.out_of_scope), (2, 1));
        assert_eq!(r.recall_at_1, 1.0);
        assert_eq!(r.decisions[0].4, 1.0, "the joke is handed off");
    }
}
