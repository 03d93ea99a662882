//! Customer-service intents. The model is trained in-process from labelled examples: the
//! built-in cold-start phrases (overridable in the config) plus every example an agent labelled
//! through the API. Out-of-scope texts (top one-vs-rest score under the threshold) get `other`.

use crate::data::Dataset;
use crate::features::{FeatureConfig, Hashed, Scratch};
use crate::linear::{self, Model, ModelMeta, TrainOptions};

pub const INTENTS: &[&str] = &[
    "order_status",
    "delivery",
    "refund_return",
    "billing",
    "account_access",
    "cancellation",
    "technical_problem",
    "complaint",
    "praise",
    "question",
    "other",
];

pub const OTHER: &str = "other";

#[derive(Clone, Debug, PartialEq)]
pub struct IntentGuess {
    pub label: String,
    pub confidence: f32,
    pub out_of_scope: bool,
}

/// Features of the customer-service intent model (same family as the banking77/CLINC150 ones).
pub fn features() -> FeatureConfig {
    FeatureConfig {
        bits: 14,
        word_ngrams: 2,
        char_min: 2,
        char_max: 5,
        negation: false,
        word_weight: 1.0,
        char_wb: false,
        block_norm: false,
        jieba_words: 0,
    }
}

/// Below this top score (one-vs-rest margin) an answer is out of scope.
pub const DEFAULT_OOS_THRESHOLD: f32 = -0.3;

#[derive(Debug, thiserror::Error)]
pub enum IntentError {
    #[error("intent {0:?} is not one of {1}")]
    UnknownIntent(String, String),
    #[error("need examples for at least two intents")]
    TooFew,
}

/// Trains the customer-service model from `(intent, text)` examples.
pub fn train(examples: &[(String, String)], seed: u64, provenance: &str) -> Result<Model, IntentError> {
    let mut d = Dataset::default();
    for (l, t) in examples {
        if !INTENTS.contains(&l.as_str()) {
            return Err(IntentError::UnknownIntent(l.clone(), INTENTS.join(", ")));
        }
        d.push(l, t);
    }
    let mut labels = d.label_set();
    labels.sort();
    if labels.len() < 2 {
        return Err(IntentError::TooFew);
    }
    let cfg = features();
    let x0 = crate::train::vectorise(&cfg, &d.texts);
    let idf = linear::idf_table(&x0, cfg.dims());
    let x = crate::train::vectorise_idf(&cfg, Some(&idf), &d.texts);
    let y = crate::train::label_ids(&d.labels, &labels);
    let o = TrainOptions { c: 3.0, lambda: 0.0, epochs: 30, balanced: true, seed };
    let dense = linear::train_svm(&x, &y, labels.len(), cfg.dims(), &o);
    let meta = ModelMeta {
        name: "intent-support".into(),
        labels,
        features: cfg,
        temperature: 3.0,
        oos_threshold: Some(DEFAULT_OOS_THRESHOLD),
        provenance: provenance.to_owned(),
        idf: false,
    };
    Ok(Model::quantise(meta, &dense, Some(idf)))
}

/// Classifies with any intent model; `oos_label` is what out-of-scope answers are called.
pub fn classify(model: &Model, text: &str, oos_label: &str, scratch: &mut Scratch) -> IntentGuess {
    scratch.hash(text, model.meta.features.kinds());
    classify_hashed(model, &scratch.hashed, oos_label)
}

/// As [`classify`] from a hashing pass that covered the model's feature kinds.
pub fn classify_hashed(model: &Model, hashed: &Hashed, oos_label: &str) -> IntentGuess {
    let k = model.labels().len();
    let mut stack = [0f32; 256];
    let mut heap = Vec::new();
    let p: &mut [f32] = if k <= stack.len() {
        &mut stack[..k]
    } else {
        heap.resize(k, 0.0);
        &mut heap
    };
    model.scores_hashed(hashed, p);
    let (best, top) = p.iter().enumerate().fold((0, f32::MIN), |a, (i, &x)| if x > a.1 { (i, x) } else { a });
    linear::softmax(p, model.meta.temperature);
    let label = &model.labels()[best];
    let oos = model.meta.oos_threshold.is_some_and(|th| top < th) || label == oos_label;
    IntentGuess {
        label: if oos { oos_label.to_owned() } else { label.clone() },
        confidence: if oos { 1.0 - p[best] } else { p[best] },
        out_of_scope: oos,
    }
}

/// Cold-start phrases: a few per intent, English and Simplified Chinese with some Spanish,
/// German and French. A deployment replaces or extends them in `[nlp.intent_examples]`.
pub fn default_examples() -> Vec<(String, String)> {
    let raw: &[(&str, &[&str])] = &[
        (
            "order_status",
            &[
                "¿cuándo llega mi pedido?",
                "status der bestellung",
                "onde está meu pedido",
                "dov'è il mio ordine",
                "订单什么时候发货",
                "where is my order",
                "what's the status of my order",
                "has my order shipped yet",
                "order number 12345 still processing",
                "when will my order be confirmed",
                "my order still says pending",
                "我的订单到哪了",
                "订单状态一直没更新",
                "¿dónde está mi pedido?",
                "wo ist meine bestellung",
                "où en est ma commande",
            ],
        ),
        (
            "delivery",
            &[
                "el repartidor no vino",
                "lieferung verspätet",
                "a entrega está atrasada",
                "il pacco non è arrivato",
                "快递员没送到",
                "my package hasn't arrived",
                "the parcel is late",
                "delivery was supposed to be yesterday",
                "courier never showed up",
                "tracking says delivered but nothing here",
                "when will it be delivered",
                "快递还没到",
                "包裹显示已签收但我没收到",
                "el paquete no ha llegado",
                "paket ist nicht angekommen",
                "le colis n'est pas arrivé",
            ],
        ),
        (
            "refund_return",
            &[
                "quiero devolver el producto",
                "rücksendung und erstattung",
                "quero meu dinheiro de volta",
                "voglio un rimborso",
                "申请退货退款",
                "i want a refund",
                "how do i return this item",
                "still waiting for my refund",
                "send me a return label",
                "the item is broken i want my money back",
                "can i exchange it for another size",
                "我要退款",
                "怎么退货",
                "退款还没到账",
                "quiero un reembolso",
                "ich möchte mein geld zurück",
                "je veux être remboursé",
            ],
        ),
        (
            "billing",
            &[
                "cargo duplicado en mi tarjeta",
                "rechnung ist falsch",
                "cobrança indevida no cartão",
                "addebito non autorizzato in fattura",
                "多扣费了",
                "i was charged twice",
                "wrong amount on my invoice",
                "why was my card charged",
                "unexpected fee on my bill",
                "my subscription price went up",
                "please send me an invoice",
                "扣了两次钱",
                "账单金额不对",
                "me cobraron dos veces",
                "falsche abbuchung",
                "j'ai été débité deux fois",
            ],
        ),
        (
            "account_access",
            &[
                "me han hackeado la cuenta",
                "me robaron la cuenta",
                "no puedo entrar a mi cuenta",
                "passwort vergessen",
                "minha conta foi hackeada",
                "account rubato",
                "on a piraté mon compte",
                "账户被黑客入侵",
                "i can't log in",
                "my account was hacked",
                "reset my password",
                "someone logged into my account",
                "two factor code not arriving",
                "locked out of my account",
                "账号被盗了",
                "登录不了",
                "密码重置",
                "no puedo iniciar sesión",
                "mein konto wurde gehackt",
                "je n'arrive pas à me connecter",
            ],
        ),
        (
            "cancellation",
            &[
                "cancelar mi pedido",
                "vertrag kündigen",
                "cancelar minha assinatura",
                "disdire l'abbonamento",
                "退订会员",
                "cancel my subscription",
                "i want to cancel my order",
                "how do i close my account",
                "stop my membership",
                "please cancel before it ships",
                "unsubscribe me from the plan",
                "取消订单",
                "我要注销账号",
                "quiero cancelar mi suscripción",
                "abo kündigen",
                "je veux résilier mon abonnement",
            ],
        ),
        (
            "technical_problem",
            &[
                "la app se cierra sola",
                "fehler beim bezahlen",
                "o aplicativo não abre",
                "l'app non funziona",
                "页面一直报错",
                "the app keeps crashing",
                "website won't load",
                "error message when i pay",
                "the song won't play",
                "app is stuck on the loading screen",
                "bluetooth not connecting",
                "app打不开",
                "一直闪退",
                "la aplicación no funciona",
                "die app stürzt ständig ab",
                "l'application plante",
            ],
        ),
        (
            "complaint",
            &[
                "pésimo servicio",
                "sehr enttäuscht vom kundenservice",
                "atendimento horrível",
                "servizio pessimo",
                "客服不理人",
                "this is unacceptable",
                "worst customer service ever",
                "i'm very disappointed",
                "nobody answers my emails",
                "you people are useless",
                "i've been waiting for weeks this is ridiculous",
                "太差了",
                "服务态度很差",
                "要投诉",
                "es una vergüenza",
                "das ist eine frechheit",
                "c'est inadmissible",
            ],
        ),
        (
            "praise",
            &[
                "excelente atención",
                "toller kundenservice danke",
                "obrigado pela ajuda",
                "grazie mille servizio ottimo",
                "非常满意",
                "thank you so much",
                "great service",
                "love your product",
                "you guys are awesome",
                "thanks for the quick help",
                "best app ever",
                "谢谢你们",
                "服务很好",
                "太棒了",
                "muchas gracias",
                "vielen dank, super service",
                "merci beaucoup",
            ],
        ),
        (
            "question",
            &[
                "¿hacen envíos internacionales?",
                "wie lange dauert der versand",
                "vocês aceitam pix?",
                "avete negozi a roma?",
                "怎么开发票",
                "do you ship to canada",
                "what are your opening hours",
                "is this available in blue",
                "how does the family plan work",
                "can i use it offline",
                "does it come with a warranty",
                "你们周末营业吗",
                "支持货到付款吗",
                "¿tienen envío gratis?",
                "gibt es einen studentenrabatt",
                "est-ce que vous livrez en belgique",
            ],
        ),
        (
            "other",
            &[
                "buenos días a todos",
                "schönes wochenende",
                "bom dia",
                "buona serata",
                "今天天气不错",
                "lol",
                "good morning everyone",
                "happy new year",
                "check out my new video",
                "follow me back",
                "what a game last night",
                "哈哈",
                "早上好",
                "jajaja",
                "guten morgen",
                "bonne nuit",
            ],
        ),
    ];
    raw.iter().flat_map(|(l, ts)| ts.iter().map(move |t| ((*l).to_owned(), (*t).to_owned()))).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cold_start_model_learns_and_accepts_new_labels() {
        let mut ex = default_examples();
        let m = train(&ex, 7, "test").unwrap();
        let mut s = Scratch::default();
        assert_eq!(classify(&m, "where is my order??", OTHER, &mut s).label, "order_status");
        assert_eq!(classify(&m, "我要退款", OTHER, &mut s).label, "refund_return");
        // An agent's label teaches a phrase the cold-start set does not cover.
        let novel = "the widget sprocket is wobbling";
        for _ in 0..3 {
            ex.push(("technical_problem".into(), novel.into()));
        }
        let m2 = train(&ex, 7, "test").unwrap();
        assert_eq!(classify(&m2, novel, OTHER, &mut s).label, "technical_problem");
        assert!(train(&[("nope".into(), "x".into())], 1, "").is_err());
    }
}
