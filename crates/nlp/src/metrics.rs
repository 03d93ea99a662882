//! Accuracy, macro-F1, macro-recall and per-label precision/recall/F1.

use std::fmt::Write as _;

#[derive(Clone, Debug)]
pub struct LabelStats {
    pub label: String,
    pub support: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

#[derive(Clone, Debug)]
pub struct Report {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub macro_recall: f64,
    pub per_label: Vec<LabelStats>,
}

/// `gold` labels define the label set averaged over; predictions outside it (e.g. "unknown")
/// count as errors.
pub fn evaluate(gold: &[String], pred: &[String]) -> Report {
    let mut labels: Vec<String> = Vec::new();
    for g in gold {
        if !labels.contains(g) {
            labels.push(g.clone());
        }
    }
    labels.sort();
    let mut per_label = Vec::new();
    let mut correct = 0;
    for (g, p) in gold.iter().zip(pred) {
        if g == p {
            correct += 1;
        }
    }
    for l in &labels {
        let tp = gold.iter().zip(pred).filter(|(g, p)| *g == l && *p == l).count() as f64;
        let support = gold.iter().filter(|g| *g == l).count();
        let predicted = pred.iter().filter(|p| *p == l).count() as f64;
        let precision = if predicted > 0.0 { tp / predicted } else { 0.0 };
        let recall = if support > 0 { tp / support as f64 } else { 0.0 };
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        per_label.push(LabelStats { label: l.clone(), support, precision, recall, f1 });
    }
    let k = per_label.len().max(1) as f64;
    Report {
        n: gold.len(),
        accuracy: if gold.is_empty() { 0.0 } else { correct as f64 / gold.len() as f64 },
        macro_f1: per_label.iter().map(|s| s.f1).sum::<f64>() / k,
        macro_recall: per_label.iter().map(|s| s.recall).sum::<f64>() / k,
        per_label,
    }
}

impl Report {
    /// A human-readable block; `per_label_limit` caps the rows printed (0 = all).
    pub fn render(&self, per_label_limit: usize) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "  n={}  accuracy={:.4}  macro-F1={:.4}  macro-recall={:.4}",
            self.n, self.accuracy, self.macro_f1, self.macro_recall
        );
        let _ = writeln!(s, "  {:<28} {:>7} {:>9} {:>7} {:>7}", "label", "support", "precision", "recall", "F1");
        let rows = if per_label_limit == 0 { self.per_label.len() } else { per_label_limit.min(self.per_label.len()) };
        for l in &self.per_label[..rows] {
            let _ =
                writeln!(s, "  {:<28} {:>7} {:>9.4} {:>7.4} {:>7.4}", l.label, l.support, l.precision, l.recall, l.f1);
        }
        if rows < self.per_label.len() {
            let _ = writeln!(s, "  … {} more labels", self.per_label.len() - rows);
        }
        s
    }
}
