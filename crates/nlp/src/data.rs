//! Reading the `label<TAB>text` data sets.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: the first line must be the header `label<TAB>text`, found {found:?}")]
    Header { path: String, found: String },
    #[error("{path}:{line}: expected `label<TAB>text`")]
    Row { path: String, line: usize },
    #[error("{path}: no rows")]
    Empty { path: String },
}

#[derive(Clone, Debug, Default)]
pub struct Dataset {
    pub labels: Vec<String>,
    pub texts: Vec<String>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.texts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }
    pub fn push(&mut self, label: &str, text: &str) {
        self.labels.push(label.to_owned());
        self.texts.push(text.to_owned());
    }
    pub fn extend(&mut self, other: &Dataset) {
        self.labels.extend(other.labels.iter().cloned());
        self.texts.extend(other.texts.iter().cloned());
    }
    /// The distinct labels in first-seen order.
    pub fn label_set(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for l in &self.labels {
            if !out.contains(l) {
                out.push(l.clone());
            }
        }
        out
    }

    /// Splits off a stratified validation part: per label, every row whose seeded hash falls in
    /// the first `frac` goes to validation. Deterministic for a given seed.
    pub fn stratified_split(&self, frac: f64, seed: u64) -> (Dataset, Dataset) {
        let mut by_label: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
        for (i, l) in self.labels.iter().enumerate() {
            by_label.entry(l).or_default().push(i);
        }
        let mut val_rows = vec![false; self.len()];
        for (_, mut rows) in by_label {
            let mut rng = crate::linear::Rng::new(seed);
            rng.shuffle(&mut rows);
            let n_val = ((rows.len() as f64) * frac).round() as usize;
            for &r in &rows[..n_val] {
                val_rows[r] = true;
            }
        }
        let (mut train, mut val) = (Dataset::default(), Dataset::default());
        for (i, &is_val) in val_rows.iter().enumerate() {
            let d = if is_val { &mut val } else { &mut train };
            d.push(&self.labels[i], &self.texts[i]);
        }
        (train, val)
    }
}

impl Dataset {
    /// Fold `f` of `k` for cross-validation: (the rest, the fold). Per label, rows are shuffled
    /// with `seed` and every `k`-th one (offset `f`) is held out. Deterministic.
    pub fn fold(&self, k: usize, f: usize, seed: u64) -> (Dataset, Dataset) {
        let mut by_label: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
        for (i, l) in self.labels.iter().enumerate() {
            by_label.entry(l).or_default().push(i);
        }
        let mut held = vec![false; self.len()];
        for (_, mut rows) in by_label {
            crate::linear::Rng::new(seed).shuffle(&mut rows);
            for (j, &r) in rows.iter().enumerate() {
                held[r] = j % k.max(1) == f;
            }
        }
        let (mut rest, mut fold) = (Dataset::default(), Dataset::default());
        for (i, &h) in held.iter().enumerate() {
            if h { &mut fold } else { &mut rest }.push(&self.labels[i], &self.texts[i]);
        }
        (rest, fold)
    }
}

pub fn read_tsv(path: &Path) -> Result<Dataset, DataError> {
    let p = path.display().to_string();
    let raw = std::fs::read_to_string(path).map_err(|source| DataError::Io { path: p.clone(), source })?;
    parse_tsv(&raw, &p)
}

pub fn parse_tsv(raw: &str, path: &str) -> Result<Dataset, DataError> {
    let mut lines = raw.lines();
    let header = lines.next().unwrap_or("");
    if header.trim_end() != "label\ttext" {
        return Err(DataError::Header { path: path.to_owned(), found: header.chars().take(60).collect() });
    }
    let mut d = Dataset::default();
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((label, text)) = line.split_once('\t') else {
            return Err(DataError::Row { path: path.to_owned(), line: n + 2 });
        };
        if label.is_empty() {
            return Err(DataError::Row { path: path.to_owned(), line: n + 2 });
        }
        d.push(label, text);
    }
    if d.is_empty() {
        return Err(DataError::Empty { path: path.to_owned() });
    }
    Ok(d)
}
