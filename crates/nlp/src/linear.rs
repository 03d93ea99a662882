//! Linear classifiers over hashed features: training (one-vs-rest L2-loss SVM by dual coordinate
//! descent, or multinomial logistic regression by SGD), int8 quantisation and a small binary
//! file format.

use serde::{Deserialize, Serialize};

use crate::features::{FeatureConfig, SparseVec};

/// Everything about a model except its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// e.g. `sentiment-en`.
    pub name: String,
    pub labels: Vec<String>,
    pub features: FeatureConfig,
    /// Scores are multiplied by this before the softmax (fitted on validation data).
    pub temperature: f32,
    /// Below this top probability the answer is "out of scope" (intent models), if set.
    #[serde(default)]
    pub oos_threshold: Option<f32>,
    /// Which data, under which licence, with which command and seed.
    pub provenance: String,
    /// Whether an inverse-document-frequency table (one byte per bucket) follows the weights.
    #[serde(default)]
    pub idf: bool,
}

/// A trained model with float weights (training and evaluation before quantisation).
#[derive(Clone, Debug)]
pub struct Dense {
    pub k: usize,
    pub dims: usize,
    /// Row-major by feature: `w[f * k + c]`.
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

impl Dense {
    pub fn scores(&self, x: &SparseVec, out: &mut [f32]) {
        out.copy_from_slice(&self.b);
        for (&i, &v) in x.idx.iter().zip(&x.val) {
            let row = &self.w[i as usize * self.k..(i as usize + 1) * self.k];
            for (o, w) in out.iter_mut().zip(row) {
                *o += v * w;
            }
        }
    }
}

/// Training options shared by both learners.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// SVM: cost C. Logistic regression: 1/(lambda·n) equivalent is not used; see `lambda`.
    pub c: f32,
    pub lambda: f32,
    pub epochs: usize,
    /// Weight classes by `n / (k · n_c)` (helps macro-recall on skewed data).
    pub balanced: bool,
    pub seed: u64,
}

/// SplitMix64: a tiny deterministic generator for shuffling.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

fn class_weights(y: &[usize], k: usize, balanced: bool) -> Vec<f32> {
    let mut n = vec![0usize; k];
    for &c in y {
        n[c] += 1;
    }
    (0..k).map(|c| if balanced && n[c] > 0 { y.len() as f32 / (k as f32 * n[c] as f32) } else { 1.0 }).collect()
}

/// One-vs-rest L2-regularised L2-loss linear SVM, dual coordinate descent (Hsieh et al. 2008,
/// the liblinear `-s 1` solver) with a regularised bias feature of value 1.
pub fn train_svm(x: &[SparseVec], y: &[usize], k: usize, dims: usize, o: &TrainOptions) -> Dense {
    let cw = class_weights(y, k, o.balanced);
    let n = x.len();
    let mut w = vec![0f32; dims * k];
    let mut b = vec![0f32; k];
    let sq: Vec<f32> = x.iter().map(|v| v.val.iter().map(|a| a * a).sum::<f32>() + 1.0).collect();
    let mut wc = vec![0f32; dims];
    let mut alpha = vec![0f32; n];
    let mut order: Vec<usize> = (0..n).collect();
    for c in 0..k {
        wc.iter_mut().for_each(|v| *v = 0.0);
        alpha.iter_mut().for_each(|v| *v = 0.0);
        let mut bc = 0f32;
        let mut rng = Rng::new(o.seed ^ (c as u64).wrapping_mul(0x1234_5678_9abc));
        for _ in 0..o.epochs {
            rng.shuffle(&mut order);
            let mut max_pg = f32::MIN;
            let mut min_pg = f32::MAX;
            for &i in &order {
                let yi = if y[i] == c { 1.0f32 } else { -1.0 };
                let ci = o.c * if y[i] == c { cw[c] } else { cw[y[i]] };
                let d = 0.5 / ci;
                let xi = &x[i];
                let mut dot = bc;
                for (&f, &v) in xi.idx.iter().zip(&xi.val) {
                    dot += wc[f as usize] * v;
                }
                let g = yi * dot - 1.0 + d * alpha[i];
                let pg = if alpha[i] == 0.0 { g.min(0.0) } else { g };
                max_pg = max_pg.max(pg);
                min_pg = min_pg.min(pg);
                if pg.abs() > 1e-12 {
                    let old = alpha[i];
                    alpha[i] = (alpha[i] - g / (sq[i] + d)).max(0.0);
                    let delta = (alpha[i] - old) * yi;
                    if delta != 0.0 {
                        for (&f, &v) in xi.idx.iter().zip(&xi.val) {
                            wc[f as usize] += delta * v;
                        }
                        bc += delta;
                    }
                }
            }
            if max_pg - min_pg < 0.01 {
                break;
            }
        }
        for f in 0..dims {
            w[f * k + c] = wc[f];
        }
        b[c] = bc;
    }
    Dense { k, dims, w, b }
}

/// Multinomial logistic regression by SGD with a decaying step and L2 via a lazy scale factor.
pub fn train_logreg(x: &[SparseVec], y: &[usize], k: usize, dims: usize, o: &TrainOptions) -> Dense {
    let cw = class_weights(y, k, o.balanced);
    let n = x.len();
    let mut v = vec![0f32; dims * k];
    let mut b = vec![0f32; k];
    let mut scale = 1f64;
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(o.seed);
    let mut p = vec![0f32; k];
    let eta0 = 0.5f64;
    let lambda = f64::from(o.lambda);
    let mut t = 0f64;
    for _ in 0..o.epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            let eta = eta0 / (1.0 + eta0 * lambda * t * 10.0).sqrt();
            t += 1.0;
            let xi = &x[i];
            p.copy_from_slice(&b);
            let s = scale as f32;
            for (&f, &val) in xi.idx.iter().zip(&xi.val) {
                let row = &v[f as usize * k..(f as usize + 1) * k];
                for (pc, w) in p.iter_mut().zip(row) {
                    *pc += s * val * w;
                }
            }
            softmax(&mut p, 1.0);
            let wy = cw[y[i]];
            for (c, pc) in p.iter_mut().enumerate() {
                *pc = (*pc - if c == y[i] { 1.0 } else { 0.0 }) * wy;
            }
            scale *= 1.0 - eta * lambda;
            let step = (eta / scale) as f32;
            for (&f, &val) in xi.idx.iter().zip(&xi.val) {
                let row = &mut v[f as usize * k..(f as usize + 1) * k];
                for (w, g) in row.iter_mut().zip(&p) {
                    *w -= step * g * val;
                }
            }
            for (bc, g) in b.iter_mut().zip(&p) {
                *bc -= eta as f32 * g * 0.1;
            }
            if scale < 1e-6 {
                for w in &mut v {
                    *w *= scale as f32;
                }
                scale = 1.0;
            }
        }
    }
    for w in &mut v {
        *w *= scale as f32;
    }
    Dense { k, dims, w: v, b }
}

pub fn softmax(s: &mut [f32], temperature: f32) {
    let m = s.iter().copied().fold(f32::MIN, f32::max);
    let mut sum = 0.0;
    for v in s.iter_mut() {
        *v = ((*v - m) * temperature).exp();
        sum += *v;
    }
    if sum > 0.0 {
        for v in s.iter_mut() {
            *v /= sum;
        }
    }
}

/// A quantised model: int8 weights with one scale per class.
#[derive(Clone, Debug)]
pub struct Model {
    pub meta: ModelMeta,
    k: usize,
    scales: Vec<f32>,
    bias: Vec<f32>,
    /// Per bucket `k + 1` bytes: the IDF (or NB) weight as stored (16 = 1.0 without a table),
    /// then the `k` int8 weights, so scoring a bucket reads one place in memory.
    rows: Vec<u8>,
    idf: Option<Vec<f32>>,
}

/// `rows` from int8 weights (`w[f * k + c]`) and the optional weight table.
fn pack_rows(k: usize, w: &[i8], idf: Option<&[f32]>) -> Vec<u8> {
    let mut rows = Vec::with_capacity(w.len() / k.max(1) * (k + 1));
    for (f, ws) in w.chunks(k.max(1)).enumerate() {
        rows.push(idf.and_then(|t| t.get(f)).map_or(16, |&v| quantise_idf(v)));
        rows.extend(ws.iter().map(|&v| v as u8));
    }
    rows
}

/// Buckets scored per batch by [`Model::scores_hashed`].
const CHUNK: usize = 32;

/// A batch of one hashing pass's buckets: index, weighted term frequency, in the word block.
struct Chunk {
    bucket: [u32; CHUNK],
    value: [f32; CHUNK],
    word: [bool; CHUNK],
    len: usize,
}

/// Running sums of [`Model::scores_hashed`]: class scores (character block, or everything when
/// the blocks share one norm), word-block scores, and the squared norms of both blocks.
struct Acc<'a> {
    out: &'a mut [f32],
    word_acc: &'a mut [f32],
    nw: f32,
    nc: f32,
}

/// IDF values are stored as one byte in steps of 1/16 (0 ..= 15.9).
pub fn quantise_idf(v: f32) -> u8 {
    (v * 16.0).round().clamp(0.0, 255.0) as u8
}

pub fn dequantise_idf(b: u8) -> f32 {
    f32::from(b) / 16.0
}

/// `ln((n + 1) / (df + 1)) + 1` per bucket, quantised as stored.
pub fn idf_table(x: &[SparseVec], dims: usize) -> Vec<f32> {
    let mut df = vec![0u32; dims];
    for v in x {
        for &i in &v.idx {
            df[i as usize] += 1;
        }
    }
    let n = x.len() as f32;
    df.iter().map(|&d| dequantise_idf(quantise_idf(((n + 1.0) / (d as f32 + 1.0)).ln() + 1.0))).collect()
}

/// Naive-Bayes log-count-ratio weights (Wang & Manning 2012, "NBSVM") per bucket: for each
/// class `c`, `r_c = ln((α + Σ_{y=c} x / ‖·‖₁) / (α + Σ_{y≠c} x / ‖·‖₁))` over binarised features,
/// and the bucket's weight is `floor + max_c |r_c|`, quantised as stored (the sign is left to
/// the linear model). Used in place of the IDF table.
pub fn nb_table(x: &[SparseVec], y: &[usize], k: usize, dims: usize, alpha: f32, floor: f32) -> Vec<f32> {
    let mut count = vec![0f32; dims * k];
    for (v, &c) in x.iter().zip(y) {
        for &i in &v.idx {
            count[i as usize * k + c] += 1.0;
        }
    }
    let mut per_class = vec![0f64; k];
    let mut all = 0f64;
    for (i, n) in count.iter().enumerate() {
        per_class[i % k] += f64::from(*n);
        all += f64::from(*n);
    }
    let d = dims as f64;
    let mut out = vec![0f32; dims];
    for (f, o) in out.iter_mut().enumerate() {
        let row = &count[f * k..(f + 1) * k];
        let total: f32 = row.iter().sum();
        let mut best = 0f64;
        let classes = if k == 2 { 1 } else { k };
        for c in 0..classes {
            let p = (f64::from(alpha) + f64::from(row[c])) / (f64::from(alpha) * d + per_class[c]);
            let q = (f64::from(alpha) + f64::from(total - row[c])) / (f64::from(alpha) * d + all - per_class[c]);
            best = best.max((p / q).ln().abs());
        }
        *o = dequantise_idf(quantise_idf(floor + best as f32));
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("not a switchboard model file (bad magic)")]
    Magic,
    #[error("model file is truncated or inconsistent: {0}")]
    Corrupt(&'static str),
    #[error("model header is not valid: {0}")]
    Header(String),
}

const MAGIC: &[u8; 8] = b"SBNLP\x01\0\0";

impl Model {
    pub fn idf(&self) -> Option<&[f32]> {
        self.idf.as_deref()
    }

    /// Features of `text` as this model expects them.
    pub fn features(&self, text: &str, scratch: &mut crate::features::Scratch, out: &mut SparseVec) {
        self.meta.features.extract_idf(text, self.idf(), scratch, out);
    }

    /// Features from a hashing pass shared with other models (see [`crate::features::Hashed`]).
    pub fn features_from(&self, hashed: &crate::features::Hashed, out: &mut SparseVec) {
        self.meta.features.from_hashed(hashed, self.idf(), out);
    }

    pub fn quantise(mut meta: ModelMeta, d: &Dense, idf: Option<Vec<f32>>) -> Model {
        meta.idf = idf.is_some();
        let k = d.k;
        let mut scales = vec![0f32; k];
        for row in d.w.chunks(k) {
            for (s, w) in scales.iter_mut().zip(row) {
                *s = s.max(w.abs());
            }
        }
        for s in &mut scales {
            *s = if *s > 0.0 { *s / 127.0 } else { 1.0 };
        }
        let w: Vec<i8> =
            d.w.iter().enumerate().map(|(i, v)| (v / scales[i % k]).round().clamp(-127.0, 127.0) as i8).collect();
        let rows = pack_rows(k, &w, idf.as_deref());
        Model { meta, k, scales, bias: d.b.clone(), rows, idf }
    }

    pub fn labels(&self) -> &[String] {
        &self.meta.labels
    }

    /// The `k` int8 weights of bucket `i`.
    #[inline]
    fn weights(&self, i: usize) -> Option<&[u8]> {
        let s = self.k + 1;
        self.rows.get(i * s + 1..(i + 1) * s)
    }

    /// Raw scores into `out` (length = number of labels).
    pub fn scores(&self, x: &SparseVec, out: &mut [f32]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        for (&i, &v) in x.idx.iter().zip(&x.val) {
            let Some(row) = self.weights(i as usize) else { continue };
            for (o, &w) in out.iter_mut().zip(row) {
                *o += v * f32::from(w as i8);
            }
        }
        self.finish(out);
    }

    fn finish(&self, out: &mut [f32]) {
        for ((o, s), b) in out.iter_mut().zip(&self.scales).zip(&self.bias) {
            *o = *o * s + b;
        }
    }

    /// As [`scores`](Self::scores) of [`features_from`](Self::features_from)`(hashed)`, in one
    /// walk over the hashing pass: no vector is built, and each bucket's weighting and class
    /// weights come from one row in memory (the model tables are larger than the CPU's
    /// near caches, so that halves the cache misses). Equal up to float rounding.
    pub fn scores_hashed(&self, hashed: &crate::features::Hashed, out: &mut [f32]) {
        let cfg = &self.meta.features;
        let k = self.k;
        out.iter_mut().for_each(|v| *v = 0.0);
        let mut stack = [0f32; 256];
        let mut heap = Vec::new();
        // Word-block sums when the blocks are normalised separately.
        let word_acc: &mut [f32] = match (cfg.block_norm, k <= stack.len()) {
            (false, _) => &mut [],
            (true, true) => &mut stack[..k],
            (true, false) => {
                heap.resize(k, 0.0);
                &mut heap
            }
        };
        let mut acc = Acc { out, word_acc, nw: 0.0, nc: 0.0 };
        let mut chunk = Chunk { bucket: [0; CHUNK], value: [0.0; CHUNK], word: [false; CHUNK], len: 0 };
        cfg.buckets(hashed, |b, v, word| {
            let n = chunk.len;
            chunk.bucket[n] = b;
            chunk.value[n] = v;
            chunk.word[n] = word;
            chunk.len += 1;
            if chunk.len == CHUNK {
                self.score_chunk(&chunk, &mut acc);
                chunk.len = 0;
            }
        });
        self.score_chunk(&chunk, &mut acc);
        let Acc { out, word_acc, nw, nc } = acc;
        if cfg.block_norm {
            let sw = if nw > 0.0 { cfg.word_weight / nw.sqrt() } else { 0.0 };
            let sc = if nc > 0.0 { 1.0 / nc.sqrt() } else { 0.0 };
            let n = (sw * sw * nw + sc * sc * nc).sqrt();
            if n > 0.0 {
                for (o, w) in out.iter_mut().zip(word_acc.iter()) {
                    *o = (*o * sc + w * sw) / n;
                }
            }
        } else if nc > 0.0 {
            let n = nc.sqrt();
            for o in out.iter_mut() {
                *o /= n;
            }
        }
        self.finish(out);
    }

    /// Adds a chunk of buckets to the sums. Every row's first byte is read before any is used:
    /// those reads do not depend on each other, so the CPU overlaps their cache misses (the
    /// tables are larger than its near caches) instead of waiting for one row at a time.
    fn score_chunk(&self, chunk: &Chunk, acc: &mut Acc<'_>) {
        let s = self.k + 1;
        let n = chunk.len;
        let mut first = [None; CHUNK];
        for (f, &b) in first.iter_mut().zip(&chunk.bucket[..n]) {
            *f = self.rows.get(b as usize * s).copied();
        }
        let has_idf = self.idf.is_some();
        let block_norm = self.meta.features.block_norm;
        let items = chunk.bucket.iter().zip(&chunk.value).zip(&chunk.word).zip(&first).take(n);
        for (((&b, &v), &word), &q) in items {
            let (b, mut v) = (b as usize, v);
            if let (Some(q), true) = (q, has_idf) {
                v *= dequantise_idf(q);
            }
            let sums = if word && block_norm {
                acc.nw += v * v;
                &mut *acc.word_acc
            } else {
                acc.nc += v * v;
                &mut *acc.out
            };
            if let Some(r) = self.rows.get(b * s + 1..(b + 1) * s) {
                for (o, &w) in sums.iter_mut().zip(r) {
                    *o += v * f32::from(w as i8);
                }
            }
        }
    }

    /// Calibrated probabilities from a hashing pass (see [`scores_hashed`](Self::scores_hashed)).
    pub fn probs_hashed(&self, hashed: &crate::features::Hashed, out: &mut [f32]) {
        self.scores_hashed(hashed, out);
        softmax(out, self.meta.temperature);
    }

    /// Calibrated probabilities into `out`.
    pub fn probs(&self, x: &SparseVec, out: &mut [f32]) {
        self.scores(x, out);
        softmax(out, self.meta.temperature);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.meta).unwrap_or_default();
        let mut out = Vec::with_capacity(16 + header.len() + 8 * self.k + self.rows.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        for v in self.scales.iter().chain(&self.bias) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let s = self.k + 1;
        for row in self.rows.chunks(s) {
            out.extend_from_slice(&row[1..]);
        }
        if self.idf.is_some() {
            out.extend(self.rows.iter().step_by(s));
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(ModelError::Magic);
        }
        let hl = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        let header = bytes.get(12..12 + hl).ok_or(ModelError::Corrupt("header"))?;
        let meta: ModelMeta = serde_json::from_slice(header).map_err(|e| ModelError::Header(e.to_string()))?;
        let k = meta.labels.len();
        if k == 0 || meta.features.bits > 24 {
            return Err(ModelError::Corrupt("labels or dimensions"));
        }
        let mut pos = 12 + hl;
        let mut floats = Vec::with_capacity(2 * k);
        for _ in 0..2 * k {
            let b = bytes.get(pos..pos + 4).ok_or(ModelError::Corrupt("scales"))?;
            floats.push(f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            pos += 4;
        }
        let n = meta.features.dims() * k;
        let w = bytes.get(pos..pos + n).ok_or(ModelError::Corrupt("weights"))?;
        pos += n;
        let idf = if meta.idf {
            let dims = meta.features.dims();
            let t = bytes.get(pos..pos + dims).ok_or(ModelError::Corrupt("idf table"))?;
            pos += dims;
            Some(t.iter().map(|&b| dequantise_idf(b)).collect())
        } else {
            None
        };
        if bytes.len() != pos {
            return Err(ModelError::Corrupt("trailing bytes"));
        }
        let bias = floats.split_off(k);
        let w: Vec<i8> = w.iter().map(|&v| v as i8).collect();
        let rows = pack_rows(k, &w, idf.as_deref());
        Ok(Model { meta, k, scales: floats, bias, rows, idf })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::features::Scratch;

    fn toy() -> (FeatureConfig, Vec<SparseVec>, Vec<usize>) {
        let cfg = FeatureConfig {
            bits: 12,
            word_ngrams: 2,
            char_min: 0,
            char_max: 0,
            negation: false,
            word_weight: 1.0,
            char_wb: false,
            block_norm: false,
            jieba_words: 0,
        };
        let texts = ["good great fine", "great good", "bad awful", "awful terrible bad", "good fine", "terrible bad"];
        let y = vec![0, 0, 1, 1, 0, 1];
        let mut s = Scratch::default();
        let x = texts
            .iter()
            .map(|t| {
                let mut v = SparseVec::default();
                cfg.extract(t, &mut s, &mut v);
                v
            })
            .collect();
        (cfg, x, y)
    }

    #[test]
    fn both_learners_separate_a_toy_set_and_roundtrip() {
        let (cfg, x, y) = toy();
        let o = TrainOptions { c: 1.0, lambda: 1e-4, epochs: 20, balanced: true, seed: 7 };
        for d in [train_svm(&x, &y, 2, cfg.dims(), &o), train_logreg(&x, &y, 2, cfg.dims(), &o)] {
            let meta = ModelMeta {
                name: "toy".into(),
                labels: vec!["pos".into(), "neg".into()],
                features: cfg.clone(),
                temperature: 1.0,
                oos_threshold: None,
                provenance: "test".into(),
                idf: false,
            };
            let idf = Some(idf_table(&x, cfg.dims()));
            let m = Model::from_bytes(&Model::quantise(meta, &d, idf).to_bytes()).unwrap();
            let mut p = [0f32; 2];
            for (xi, &yi) in x.iter().zip(&y) {
                m.probs(xi, &mut p);
                assert!(p[yi] > 0.5, "{p:?}");
            }
        }
        assert!(matches!(Model::from_bytes(b"nope"), Err(ModelError::Magic)));
    }

    /// The one-walk scoring of the hot path gives what building the vector and scoring it
    /// gives, for every shipped model (IDF, NB and plain weighting) and for separately
    /// normalised word/char blocks; the file round trip keeps every byte.
    #[test]
    fn scoring_from_the_hashing_pass_equals_scoring_the_vector() {
        let mut models: Vec<Model> =
            crate::models::SENTIMENT.iter().map(|(_, b)| Model::from_bytes(b).unwrap()).collect();
        models.push(Model::from_bytes(crate::models::INTENT_BANKING77).unwrap());
        models.push(Model::from_bytes(crate::models::INTENT_CLINC150).unwrap());
        for (_, b) in crate::models::SENTIMENT.iter().take(2) {
            assert_eq!(Model::from_bytes(b).unwrap().to_bytes(), b.to_vec());
        }
        let (cfg, x, y) = toy();
        let o = TrainOptions { c: 1.0, lambda: 0.0, epochs: 20, balanced: true, seed: 7 };
        for (block_norm, word_weight) in [(true, 1.0), (true, 2.5), (false, 2.5)] {
            let cfg = FeatureConfig { block_norm, word_weight, char_min: 1, char_max: 3, ..cfg.clone() };
            let d = train_svm(&x, &y, 2, cfg.dims(), &o);
            let meta = ModelMeta {
                name: "toy".into(),
                labels: vec!["pos".into(), "neg".into()],
                features: cfg,
                temperature: 1.0,
                oos_threshold: None,
                provenance: "test".into(),
                idf: false,
            };
            models.push(Model::quantise(meta, &d, Some(idf_table(&x, 1 << 12))));
        }
        let mut s = Scratch::default();
        let mut v = SparseVec::default();
        for m in &models {
            let k = m.labels().len();
            let (mut a, mut b) = (vec![0f32; k], vec![0f32; k]);
            for t in ["I do NOT like this, at all!! @bob #fail", "我不喜欢这个 app 😡", "good great fine", "", "?"]
            {
                s.hash(t, m.meta.features.kinds());
                m.features_from(&s.hashed, &mut v);
                m.scores(&v, &mut a);
                m.scores_hashed(&s.hashed, &mut b);
                for (x, y) in a.iter().zip(&b) {
                    assert!((x - y).abs() <= 1e-4 * (1.0 + x.abs()), "{}: {t:?} {a:?} {b:?}", m.meta.name);
                }
            }
        }
    }
}
