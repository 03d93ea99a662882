//! Analysers per language: English (simple tokenizer, lower case, stop words, Snowball stemming),
//! Chinese (jieba word segmentation in search mode, which also emits the shorter words inside
//! long ones, then lower case) and a generic one (lower case, ASCII folding) for every other
//! locale. The Chinese tokenizer is our own small [`Tokenizer`] implementation over `jieba-rs`.

use std::sync::Arc;

use jieba_rs::Jieba;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
    Token, TokenStream, Tokenizer,
};

/// Analyser names registered on the index.
pub const EN: &str = "sb_en";
/// Chinese analyser.
pub const ZH: &str = "sb_zh";
/// Every other locale.
pub const GENERIC: &str = "sb_generic";

/// Words too common to say anything about which article answers a question.
pub const EN_STOP_WORDS: &[&str] = &[
    "a", "about", "am", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do", "does", "for",
    "from", "get", "had", "has", "have", "hello", "hey", "hi", "how", "i", "i'm", "if", "in", "is", "it", "it's", "me",
    "my", "of", "on", "or", "please", "so", "that", "the", "their", "there", "this", "to", "want", "was", "what",
    "when", "where", "which", "who", "why", "will", "with", "would", "you", "your", "thanks", "thank", "im", "need",
    "know", "tell", "there's",
];

/// Chinese function words and particles jieba keeps as words.
pub const ZH_STOP_WORDS: &[&str] = &[
    "的",
    "了",
    "吗",
    "呢",
    "吧",
    "啊",
    "我",
    "你",
    "他",
    "她",
    "是",
    "在",
    "有",
    "和",
    "就",
    "都",
    "也",
    "要",
    "请问",
    "请",
    "怎么",
    "如何",
    "什么",
    "一下",
    "可以",
    "能",
    "我的",
    "这个",
    "那个",
    "还",
    "为什么",
    "您好",
    "你好",
    "谢谢",
];

/// jieba segmentation as a tantivy tokenizer. Cheap to clone (the dictionary is shared).
#[derive(Clone)]
pub struct JiebaTokenizer {
    jieba: Arc<Jieba>,
    tokens: Vec<Token>,
}

impl JiebaTokenizer {
    /// A tokenizer over a loaded dictionary.
    pub fn new(jieba: Arc<Jieba>) -> Self {
        Self { jieba, tokens: Vec::new() }
    }
}

/// The tokens of one text, produced up front.
pub struct JiebaTokenStream<'a> {
    tokens: &'a mut Vec<Token>,
    next: usize,
}

impl Tokenizer for JiebaTokenizer {
    type TokenStream<'a> = JiebaTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> JiebaTokenStream<'a> {
        self.tokens.clear();
        let mut position = 0;
        for t in self.jieba.cut_for_search(text, true) {
            // Punctuation and spaces are not words.
            if !t.word.chars().any(char::is_alphanumeric) {
                continue;
            }
            self.tokens.push(Token {
                offset_from: t.byte_start,
                offset_to: t.byte_start + t.word.len(),
                position,
                text: t.word.to_owned(),
                position_length: 1,
            });
            position += 1;
        }
        JiebaTokenStream { tokens: &mut self.tokens, next: 0 }
    }
}

impl TokenStream for JiebaTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

fn stop(words: &[&str]) -> StopWordFilter {
    StopWordFilter::remove(words.iter().map(|w| (*w).to_owned()))
}

/// The English analyser.
pub fn english() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(stop(EN_STOP_WORDS))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The Chinese analyser (English words inside Chinese text are lower-cased, not stemmed).
pub fn chinese(jieba: Arc<Jieba>) -> TextAnalyzer {
    TextAnalyzer::builder(JiebaTokenizer::new(jieba))
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(stop(ZH_STOP_WORDS))
        .build()
}

/// The analyser for every other locale.
pub fn generic() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Which analyser a locale uses.
pub fn analyser_for(locale: &str) -> &'static str {
    let lang = locale.split('-').next().unwrap_or(locale).to_ascii_lowercase();
    match lang.as_str() {
        "en" => EN,
        "zh" => ZH,
        _ => GENERIC,
    }
}

/// The tokens `analyser` makes of `text`.
pub fn tokens(analyser: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyser.token_stream(text);
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn english_is_stemmed_and_stop_words_go() {
        let mut a = english();
        assert_eq!(tokens(&mut a, "How do I return my Orders?"), vec!["return", "order"]);
        assert_eq!(tokens(&mut a, "refunds refunding"), vec!["refund", "refund"]);
    }

    #[test]
    fn chinese_is_segmented_into_words() {
        let mut a = chinese(Arc::new(Jieba::new()));
        let t = tokens(&mut a, "我的订单什么时候发货？");
        assert!(t.contains(&"订单".to_owned()), "{t:?}");
        assert!(t.contains(&"发货".to_owned()), "{t:?}");
        assert!(!t.iter().any(|w| w == "？" || w == "的"), "{t:?}");
        // Search mode also yields the words inside a long word.
        let t = tokens(&mut a, "中华人民共和国");
        assert!(t.contains(&"中华".to_owned()) && t.contains(&"中华人民共和国".to_owned()), "{t:?}");
        let mut a2 = chinese(Arc::new(Jieba::new()));
        assert_eq!(tokens(&mut a2, "iPhone 退款"), vec!["iphone", "退款"]);
    }
}
