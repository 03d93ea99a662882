//! The models built into the binary (produced by `switchboard nlp train`, see docs/nlp.md).

pub const SENTIMENT: &[(&str, &[u8])] = &[
    ("sentiment-en", include_bytes!("../models/sentiment-en.sbm")),
    ("sentiment-zh", include_bytes!("../models/sentiment-zh.sbm")),
    ("sentiment-multi", include_bytes!("../models/sentiment-multi.sbm")),
    ("sentiment-ar", include_bytes!("../models/sentiment-ar.sbm")),
    ("sentiment-de", include_bytes!("../models/sentiment-de.sbm")),
    ("sentiment-es", include_bytes!("../models/sentiment-es.sbm")),
    ("sentiment-fr", include_bytes!("../models/sentiment-fr.sbm")),
    ("sentiment-hi", include_bytes!("../models/sentiment-hi.sbm")),
    ("sentiment-it", include_bytes!("../models/sentiment-it.sbm")),
    ("sentiment-pt", include_bytes!("../models/sentiment-pt.sbm")),
];

pub const SENTIMENT_ROUTING: &str = include_str!("../models/sentiment-routing.tsv");

pub const INTENT_BANKING77: &[u8] = include_bytes!("../models/intent-banking77.sbm");
pub const INTENT_CLINC150: &[u8] = include_bytes!("../models/intent-clinc150.sbm");

/// Latin-script language table distilled from lingua's models (`switchboard nlp train language`).
pub const LANG_LATIN: &[u8] = include_bytes!("../models/lang-latin.sbl");
