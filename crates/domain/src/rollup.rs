//! Mergeable sums behind the quality metrics: the metrics of a period are the metrics of the sum
//! of its days' [`Aggregate`]s. Daily aggregates are kept in the database (`quality_rollups`,
//! refreshed by the rollup job) so a month's report reads a few thousand small rows instead of
//! every message. Counts, rates and means are exact; medians come from a log-scale histogram
//! (buckets 0.5 % wide) unless the aggregate still holds every duration (a raw computation), in
//! which case they are exact too. docs/metrics.md has the definitions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::quality::{self, BotMetrics, Calendars, Csat, DurationStats, Metrics, MetricsInput, Nps, SentimentCounts};
use crate::sla::SlaMetric;
use crate::survey::SurveyKind;

/// Relative width of a histogram bucket.
const BUCKET_GROWTH: f64 = 1.005;

/// Durations (calendar and business microseconds) as sums, histograms and, while exact, the values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Durations {
    /// How many.
    pub count: u64,
    /// Sum of calendar microseconds.
    pub sum_us: u64,
    /// Sum of business microseconds.
    pub business_sum_us: u64,
    /// Calendar histogram: bucket → count.
    #[serde(with = "compact_hist")]
    pub hist: BTreeMap<u32, u64>,
    /// Business histogram.
    #[serde(with = "compact_hist")]
    pub business_hist: BTreeMap<u32, u64>,
    /// Every (calendar, business) pair, while this aggregate comes from raw rows only.
    #[serde(skip)]
    pub exact: Option<Vec<(i64, i64)>>,
}

/// A histogram stored as one string, `"bucket:count bucket:count …"` in bucket order, each bucket
/// written as the gap from the previous one. Reports parse a few thousand stored day rows; at 10
/// million messages parsing them was 65 % of a weekly report's time, most of it these histograms
/// as JSON objects (`{"1234": 5, …}`). Rows stored as objects by earlier versions are still read.
mod compact_hist {
    use std::collections::BTreeMap;
    use std::fmt::{self, Write};

    use serde::de::{self, MapAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &BTreeMap<u32, u64>, s: S) -> Result<S::Ok, S::Error> {
        let mut out = String::with_capacity(h.len() * 6);
        let mut prev = 0u32;
        for (i, (b, c)) in h.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{}:{c}", b - prev);
            prev = *b;
        }
        s.serialize_str(&out)
    }

    /// Parses the string form; `None` names no reason, the caller words the error.
    pub(super) fn parse(text: &str) -> Option<BTreeMap<u32, u64>> {
        let mut h = BTreeMap::new();
        let mut bucket = 0u32;
        for pair in text.split_ascii_whitespace() {
            let (gap, count) = pair.split_once(':')?;
            bucket = bucket.checked_add(gap.parse().ok()?)?;
            h.insert(bucket, count.parse().ok()?);
        }
        Some(h)
    }

    struct HistVisitor;

    impl<'de> Visitor<'de> for HistVisitor {
        type Value = BTreeMap<u32, u64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a histogram: \"gap:count …\" or an object of bucket → count")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse(v).ok_or_else(|| E::custom(format!("malformed histogram {v:?}")))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut h = BTreeMap::new();
            while let Some((b, c)) = m.next_entry::<u32, u64>()? {
                h.insert(b, c);
            }
            Ok(h)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<u32, u64>, D::Error> {
        d.deserialize_any(HistVisitor)
    }
}

fn bucket(us: i64) -> u32 {
    let secs = us.max(0) as f64 / 1e6;
    ((1.0 + secs).ln() / BUCKET_GROWTH.ln()).floor() as u32
}

/// The middle of a bucket, in seconds.
fn bucket_value(b: u32) -> f64 {
    if b == 0 {
        return 0.0;
    }
    (BUCKET_GROWTH.ln() * (f64::from(b) + 0.5)).exp() - 1.0
}

fn hist_median(h: &BTreeMap<u32, u64>, n: u64) -> Option<f64> {
    if n == 0 {
        return None;
    }
    // The values of rank k (0-based) and, for an even count, k - 1.
    let nth = |k: u64| {
        let mut seen = 0;
        for (&b, &c) in h {
            seen += c;
            if seen > k {
                return bucket_value(b);
            }
        }
        0.0
    };
    Some(if n % 2 == 1 { nth(n / 2) } else { (nth(n / 2 - 1) + nth(n / 2)) / 2.0 })
}

impl Durations {
    fn exact() -> Self {
        Self { exact: Some(Vec::new()), ..Self::default() }
    }

    fn push(&mut self, cal_us: i64, bus_us: i64) {
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(cal_us.max(0) as u64);
        self.business_sum_us = self.business_sum_us.saturating_add(bus_us.max(0) as u64);
        *self.hist.entry(bucket(cal_us)).or_default() += 1;
        *self.business_hist.entry(bucket(bus_us)).or_default() += 1;
        if let Some(v) = &mut self.exact {
            v.push((cal_us, bus_us));
        }
    }

    fn merge(&mut self, o: &Durations) {
        self.count += o.count;
        self.sum_us = self.sum_us.saturating_add(o.sum_us);
        self.business_sum_us = self.business_sum_us.saturating_add(o.business_sum_us);
        for (b, c) in &o.hist {
            *self.hist.entry(*b).or_default() += c;
        }
        for (b, c) in &o.business_hist {
            *self.business_hist.entry(*b).or_default() += c;
        }
        self.exact = match (self.exact.take(), &o.exact) {
            (Some(mut a), Some(b)) => {
                a.extend_from_slice(b);
                Some(a)
            }
            _ => None,
        };
    }

    /// Mean and median, calendar and business.
    pub fn stats(&self) -> DurationStats {
        if let Some(v) = &self.exact {
            return DurationStats::from_pairs(v);
        }
        let mean = |s: u64| (self.count > 0).then(|| s as f64 / self.count as f64 / 1e6);
        DurationStats {
            count: self.count,
            mean_secs: mean(self.sum_us),
            median_secs: hist_median(&self.hist, self.count),
            business_mean_secs: mean(self.business_sum_us),
            business_median_secs: hist_median(&self.business_hist, self.count),
        }
    }
}

/// Bot counts over conversations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BotSums {
    /// Conversations the bot took part in.
    pub conversations: u64,
    /// … with an article sent.
    pub answered: u64,
    /// … dealt with by the bot alone.
    pub deflected: u64,
    /// … handed to people.
    pub handed_off: u64,
    /// "Helped" presses.
    pub helped: u64,
    /// "Did not help" presses.
    pub not_helped: u64,
}

/// Everything the metrics of a set of conversations, answers and triaged messages are made of,
/// as sums that add up across days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Aggregate {
    /// Conversations created.
    pub conversations: u64,
    /// With a public agent reply.
    pub responded: u64,
    /// Resolved or closed.
    pub resolved: u64,
    /// First-contact resolutions.
    pub fcr: u64,
    /// Repeat contacts.
    pub repeat_contacts: u64,
    /// Escalated.
    pub escalated: u64,
    /// First response times.
    pub first_response: Durations,
    /// Every customer wait.
    pub response_time: Durations,
    /// Resolution times.
    pub resolution_time: Durations,
    /// Per SLA metric: met, breached, running.
    pub sla: BTreeMap<String, [u64; 3]>,
    /// CSAT answers per score 1..=5.
    pub csat: [u64; 5],
    /// NPS answers per score 0..=10.
    pub nps: [u64; 11],
    /// Sentiment of triaged customer messages.
    pub sentiment: SentimentCounts,
    /// The FAQ bot.
    pub bot: BotSums,
}

impl Aggregate {
    /// Sums `input` (conversations, answers and sentiments; not the backlog). With `exact`, every
    /// duration is kept too, so medians stay exact.
    pub fn collect(input: &MetricsInput, cals: &Calendars, now: DateTime<Utc>, exact: bool) -> Aggregate {
        let mut a = Aggregate::default();
        if exact {
            a.first_response = Durations::exact();
            a.response_time = Durations::exact();
            a.resolution_time = Durations::exact();
        }
        for c in &input.conversations {
            let f = quality::conversation_facts(c, cals, now);
            a.conversations += 1;
            if let Some((cal, bus)) = f.first_response {
                a.responded += 1;
                a.first_response.push(cal, bus);
            }
            for (cal, bus) in f.waits {
                a.response_time.push(cal, bus);
            }
            if f.resolved {
                a.resolved += 1;
                if let Some((cal, bus)) = f.resolution {
                    a.resolution_time.push(cal, bus);
                }
            }
            a.fcr += u64::from(f.fcr);
            a.repeat_contacts += u64::from(c.repeat_contact);
            a.escalated += u64::from(c.escalated);
            for (metric, state) in f.sla {
                a.sla.entry(metric.as_str().to_owned()).or_default()[state as usize] += 1;
            }
            if c.bot.engaged() {
                a.bot.conversations += 1;
                a.bot.answered += u64::from(c.bot.answers > 0);
                a.bot.deflected += u64::from(f.bot_deflected);
                a.bot.handed_off += u64::from(c.bot.handed_off);
                a.bot.helped += u64::from(c.bot.helped);
                a.bot.not_helped += u64::from(c.bot.not_helped);
            }
        }
        for ans in &input.answers {
            match ans.kind {
                SurveyKind::Csat if (1..=5).contains(&ans.score) => a.csat[(ans.score - 1) as usize] += 1,
                SurveyKind::Nps if (0..=10).contains(&ans.score) => a.nps[ans.score as usize] += 1,
                _ => {}
            }
        }
        for s in &input.sentiments {
            match s.sentiment.as_str() {
                "negative" => a.sentiment.negative += 1,
                "positive" => a.sentiment.positive += 1,
                _ => a.sentiment.neutral += 1,
            }
        }
        a
    }

    /// Adds `o` to this aggregate.
    pub fn merge(&mut self, o: &Aggregate) {
        self.conversations += o.conversations;
        self.responded += o.responded;
        self.resolved += o.resolved;
        self.fcr += o.fcr;
        self.repeat_contacts += o.repeat_contacts;
        self.escalated += o.escalated;
        self.first_response.merge(&o.first_response);
        self.response_time.merge(&o.response_time);
        self.resolution_time.merge(&o.resolution_time);
        for (k, v) in &o.sla {
            let e = self.sla.entry(k.clone()).or_default();
            for i in 0..3 {
                e[i] += v[i];
            }
        }
        for i in 0..5 {
            self.csat[i] += o.csat[i];
        }
        for i in 0..11 {
            self.nps[i] += o.nps[i];
        }
        self.sentiment.negative += o.sentiment.negative;
        self.sentiment.neutral += o.sentiment.neutral;
        self.sentiment.positive += o.sentiment.positive;
        let (b, ob) = (&mut self.bot, &o.bot);
        b.conversations += ob.conversations;
        b.answered += ob.answered;
        b.deflected += ob.deflected;
        b.handed_off += ob.handed_off;
        b.helped += ob.helped;
        b.not_helped += ob.not_helped;
    }

    /// The metrics these sums give, with `backlog` conversations waiting at the end.
    pub fn metrics(&self, backlog: u64) -> Metrics {
        let ratio = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
        let n = self.conversations;
        let csat_n: u64 = self.csat.iter().sum();
        let csat_sum: u64 = self.csat.iter().enumerate().map(|(i, c)| (i as u64 + 1) * c).sum();
        let satisfied = self.csat[3] + self.csat[4];
        let promoters = self.nps[9] + self.nps[10];
        let passives = self.nps[7] + self.nps[8];
        let detractors: u64 = self.nps[..7].iter().sum();
        let nps_n = promoters + passives + detractors;
        let b = &self.bot;
        Metrics {
            conversations: n,
            responded: self.responded,
            response_rate: ratio(self.responded, n),
            first_response: self.first_response.stats(),
            response_time: self.response_time.stats(),
            resolved: self.resolved,
            resolution_rate: ratio(self.resolved, n),
            resolution_time: self.resolution_time.stats(),
            fcr: self.fcr,
            fcr_rate: ratio(self.fcr, self.resolved),
            repeat_contacts: self.repeat_contacts,
            repeat_contact_rate: ratio(self.repeat_contacts, n),
            escalated: self.escalated,
            escalation_ratio: ratio(self.escalated, n),
            sla: [SlaMetric::FirstResponse, SlaMetric::NextResponse, SlaMetric::Resolution]
                .into_iter()
                .filter_map(|metric| {
                    let [met, breached, running] = *self.sla.get(metric.as_str())?;
                    Some(quality::SlaAttainment {
                        metric,
                        met,
                        breached,
                        running,
                        attainment: ratio(met, met + breached),
                    })
                })
                .collect(),
            csat: Csat {
                answers: csat_n,
                satisfied,
                percent: ratio(satisfied, csat_n),
                average: (csat_n > 0).then(|| csat_sum as f64 / csat_n as f64),
                distribution: self.csat,
            },
            nps: Nps {
                answers: nps_n,
                promoters,
                passives,
                detractors,
                score: (nps_n > 0).then(|| 100.0 * (promoters as f64 - detractors as f64) / nps_n as f64),
            },
            sentiment: self.sentiment.clone(),
            backlog,
            bot: Some(BotMetrics {
                conversations: b.conversations,
                answered: b.answered,
                deflected: b.deflected,
                handed_off: b.handed_off,
                deflection_rate: ratio(b.deflected, b.conversations),
                handoff_rate: ratio(b.handed_off, b.conversations),
                helped: b.helped,
                not_helped: b.not_helped,
                helpful_rate: ratio(b.helped, b.helped + b.not_helped),
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_stored_compactly_and_the_object_form_is_still_read() {
        let mut d = Durations::default();
        for us in [0, 1_000_000, 1_000_000, 60_000_000, 7_200_000_000] {
            d.push(us, us / 2);
        }
        let json = serde_json::to_string(&d).unwrap();
        assert!(json.contains(r#""hist":"0:1 "#), "{json}");
        let back: Durations = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Durations { exact: None, ..d.clone() });
        // As rows written before the compact form stored it.
        let old = r#"{"count":2,"sum_us":3,"business_sum_us":1,"hist":{"7":1,"900":1},"business_hist":{}}"#;
        let old: Durations = serde_json::from_str(old).unwrap();
        assert_eq!(old.hist, BTreeMap::from([(7, 1), (900, 1)]));
        for bad in [r#""x""#, r#""1:""#, r#""4294967295:1 1:1""#] {
            let j = format!(r#"{{"hist":{bad}}}"#);
            assert!(serde_json::from_str::<Durations>(&j).is_err(), "{j}");
        }
        assert_eq!(compact_hist::parse(""), Some(BTreeMap::new()));
    }

    #[test]
    fn histogram_medians_are_within_half_a_percent() {
        let mut d = Durations::default();
        for secs in [30_i64, 95, 3600, 7200, 86_400] {
            d.push(secs * 1_000_000, 0);
        }
        let m = d.stats().median_secs.unwrap();
        assert!((m - 3600.0).abs() / 3600.0 < 0.005, "{m}");
        assert_eq!(d.stats().business_median_secs, Some(0.0), "zero stays zero");
        assert_eq!(d.stats().mean_secs, Some(19_465.0), "means are exact");
        let mut even = Durations::default();
        even.push(1_000_000_000, 0);
        even.push(3_000_000_000, 0);
        let m = even.stats().median_secs.unwrap();
        assert!((m - 2000.0).abs() / 2000.0 < 0.005, "{m}");
    }

    #[test]
    fn merging_keeps_exact_values_only_while_both_sides_have_them() {
        let mut a = Durations::exact();
        a.push(1_000_000, 1_000_000);
        let mut b = Durations::exact();
        b.push(3_000_000, 0);
        a.merge(&b);
        assert_eq!(a.stats().median_secs, Some(2.0));
        a.merge(&Durations::default());
        assert!(a.exact.is_none());
    }
}
