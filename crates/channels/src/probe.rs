//! "Test connection": one harmless read against the provider's API with a channel's stored
//! credentials and base URL — Meta Graph `GET /{phone-number-id | page-id | ig-account-id}`,
//! X `GET /2/users/me`, Telegram `getMe` — answering who the credentials belong to, or the
//! provider's own error.

use std::time::Duration;

use serde_json::Value;
use switchboard_domain::ChannelKind;

use crate::ChannelSettings;
use crate::meta::MetaConfig;
use crate::telegram::TelegramConfig;
use crate::x::XConfig;

/// How long a connection check waits for the provider.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// The channel's settings lack what the check needs (names the key).
    #[error("{0}")]
    Config(String),
    /// This kind of channel has no provider API to call.
    #[error("{0} channels have no provider API to test")]
    Unsupported(&'static str),
    /// The provider could not be reached.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// What was called (without credentials).
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The provider refused: its status and its own error message.
    #[error("the provider answered {status}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The provider's error text.
        message: String,
    },
}

/// Calls the provider and says whose credentials these are, e.g. `WhatsApp number
/// +1 555-010-0199 (Acme Support)`.
pub async fn test_connection(client: &reqwest::Client, ch: &ChannelSettings) -> Result<String, ProbeError> {
    match ch.kind {
        ChannelKind::Whatsapp | ChannelKind::Messenger | ChannelKind::Instagram => meta(client, ch).await,
        ChannelKind::X => x(client, ch).await,
        ChannelKind::Telegram => telegram(client, ch).await,
        other => Err(ProbeError::Unsupported(other.as_str())),
    }
}

fn required<'a>(v: &'a Option<String>, key: &str) -> Result<&'a str, ProbeError> {
    v.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| ProbeError::Config(format!("config.{key} is not set")))
}

fn check_base(url: &str, key: &str) -> Result<(), ProbeError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(ProbeError::Config(format!("config.{key} {url:?} is not an http(s) URL")))
    }
}

/// Sends `req`; the JSON body of a 2xx answer, else the provider's error.
async fn call(
    req: reqwest::RequestBuilder,
    shown_url: String,
    error_text: fn(&Value) -> Option<String>,
) -> Result<Value, ProbeError> {
    let resp = req.timeout(TIMEOUT).send().await.map_err(|e| ProbeError::Unreachable {
        url: shown_url.clone(),
        // The URL inside reqwest's message may hold a token (Telegram's is in the path).
        reason: e.without_url().to_string(),
    })?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let message = error_text(&body).unwrap_or_else(|| {
        let t: String = text.chars().take(200).collect();
        if t.trim().is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { t }
    });
    Err(ProbeError::Refused { status: status.as_u16(), message })
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

async fn meta(client: &reqwest::Client, ch: &ChannelSettings) -> Result<String, ProbeError> {
    let cfg = MetaConfig::from_settings(ch).map_err(ProbeError::Config)?;
    let token = required(&cfg.access_token, "access_token")?;
    let (key, node) = match ch.kind {
        ChannelKind::Whatsapp => ("phone_number_id", &cfg.phone_number_id),
        ChannelKind::Messenger => ("page_id", &cfg.page_id),
        _ => ("ig_account_id", &cfg.ig_account_id),
    };
    let node = required(node, key)?;
    check_base(cfg.graph_base(), "graph_base_url")?;
    let url = format!("{}/{node}", cfg.graph_base());
    let graph_error = |b: &Value| {
        let msg = str_at(b, "/error/message")?;
        let code = b.pointer("/error/code").and_then(Value::as_i64);
        Some(match code {
            Some(c) => format!("{msg} (code {c})"),
            None => msg.to_owned(),
        })
    };
    let body = call(client.get(&url).bearer_auth(token), url.clone(), graph_error).await?;
    let id = str_at(&body, "/id").unwrap_or(node);
    Ok(match ch.kind {
        ChannelKind::Whatsapp => format!(
            "WhatsApp number {} ({}), id {id}",
            str_at(&body, "/display_phone_number").unwrap_or("?"),
            str_at(&body, "/verified_name").unwrap_or("no verified name")
        ),
        ChannelKind::Messenger => format!("Facebook page {}, id {id}", str_at(&body, "/name").unwrap_or("?")),
        _ => format!(
            "Instagram account @{}, id {id}",
            str_at(&body, "/username").or_else(|| str_at(&body, "/name")).unwrap_or("?")
        ),
    })
}

async fn x(client: &reqwest::Client, ch: &ChannelSettings) -> Result<String, ProbeError> {
    let cfg = XConfig::from_settings(ch).map_err(ProbeError::Config)?;
    let token = required(&cfg.access_token, "access_token")?;
    check_base(cfg.api_base(), "api_base_url")?;
    let url = format!("{}/2/users/me", cfg.api_base());
    let x_error = |b: &Value| {
        str_at(b, "/detail")
            .or_else(|| str_at(b, "/errors/0/message"))
            .or_else(|| str_at(b, "/title"))
            .map(str::to_owned)
    };
    let body = call(client.get(&url).bearer_auth(token), url.clone(), x_error).await?;
    let id = str_at(&body, "/data/id").unwrap_or("?");
    let mut out = format!("X account @{}, id {id}", str_at(&body, "/data/username").unwrap_or("?"));
    // The configured brand id must be the account the token acts for, or echoes are misread.
    if let Some(configured) = cfg.user_id.as_deref().filter(|u| *u != id) {
        return Err(ProbeError::Config(format!("{out}, but config.user_id is {configured}")));
    }
    if cfg.user_id.is_none() {
        out.push_str(" (config.user_id is not set)");
    }
    Ok(out)
}

async fn telegram(client: &reqwest::Client, ch: &ChannelSettings) -> Result<String, ProbeError> {
    let cfg = TelegramConfig::from_settings(ch).map_err(ProbeError::Config)?;
    required(&cfg.bot_token, "bot_token")?;
    check_base(cfg.api_base(), "api_base_url")?;
    let shown = format!("{}/bot…/getMe", cfg.api_base());
    let tg_error = |b: &Value| str_at(b, "/description").map(str::to_owned);
    let body = call(client.post(cfg.method_url("getMe")), shown, tg_error).await?;
    if body.get("ok").and_then(Value::as_bool) != Some(true) {
        let message = tg_error(&body).unwrap_or_else(|| "getMe did not answer ok".into());
        return Err(ProbeError::Refused { status: 200, message });
    }
    Ok(format!(
        "Telegram bot @{}, id {}",
        str_at(&body, "/result/username").unwrap_or("?"),
        body.pointer("/result/id").map(|v| v.to_string()).unwrap_or_else(|| "?".into())
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;
    use switchboard_domain::ChannelSlug;

    fn settings(kind: ChannelKind, config: Value) -> ChannelSettings {
        ChannelSettings { slug: ChannelSlug::parse("c").unwrap(), kind, secret: None, config }
    }

    #[tokio::test]
    async fn meta_nodes_answer_with_the_right_token_and_the_graph_error_otherwise() {
        let sim = crate::meta::simulator::Simulator::start(Default::default()).await.unwrap();
        let cfg = crate::meta::simulator::SimulatorConfig::default();
        let base = sim.graph_base_url();
        let client = reqwest::Client::new();
        let wa = settings(
            ChannelKind::Whatsapp,
            json!({"access_token": cfg.access_token, "phone_number_id": cfg.phone_number_id, "graph_base_url": base}),
        );
        let ok = test_connection(&client, &wa).await.unwrap();
        assert!(ok.contains("+1 555-010-0199") && ok.contains(&cfg.phone_number_id), "{ok}");
        let page = settings(
            ChannelKind::Messenger,
            json!({"access_token": cfg.access_token, "page_id": cfg.page_id, "graph_base_url": base}),
        );
        assert!(test_connection(&client, &page).await.unwrap().contains("Facebook page Acme Support"));
        let ig = settings(
            ChannelKind::Instagram,
            json!({"access_token": cfg.access_token, "ig_account_id": cfg.ig_account_id, "graph_base_url": base}),
        );
        assert!(test_connection(&client, &ig).await.unwrap().contains("@acmesupport"));

        let bad = settings(
            ChannelKind::Whatsapp,
            json!({"access_token": "wrong", "phone_number_id": cfg.phone_number_id, "graph_base_url": base}),
        );
        let e = test_connection(&client, &bad).await.unwrap_err();
        assert_eq!(e, ProbeError::Refused { status: 401, message: "Invalid OAuth access token. (code 190)".into() });
        let unknown = settings(
            ChannelKind::Whatsapp,
            json!({"access_token": cfg.access_token, "phone_number_id": "999", "graph_base_url": base}),
        );
        assert!(matches!(test_connection(&client, &unknown).await, Err(ProbeError::Refused { status: 404, .. })));
        let missing = settings(ChannelKind::Messenger, json!({"access_token": "t", "graph_base_url": base}));
        assert_eq!(
            test_connection(&client, &missing).await,
            Err(ProbeError::Config("config.page_id is not set".into()))
        );
    }

    #[tokio::test]
    async fn x_and_telegram_say_whose_credentials_these_are() {
        let sim = crate::x::simulator::Simulator::start(Default::default()).await.unwrap();
        let cfg = crate::x::simulator::SimulatorConfig::default();
        let client = reqwest::Client::new();
        let x = settings(
            ChannelKind::X,
            json!({"access_token": cfg.access_token, "user_id": cfg.brand_user_id, "api_base_url": sim.api_base_url()}),
        );
        let ok = test_connection(&client, &x).await.unwrap();
        assert!(ok.contains("@SwitchboardCo") && ok.contains(&cfg.brand_user_id), "{ok}");
        let other = settings(
            ChannelKind::X,
            json!({"access_token": cfg.access_token, "user_id": "1", "api_base_url": sim.api_base_url()}),
        );
        assert!(
            matches!(test_connection(&client, &other).await, Err(ProbeError::Config(m)) if m.contains("config.user_id is 1"))
        );
        let bad = settings(ChannelKind::X, json!({"access_token": "nope", "api_base_url": sim.api_base_url()}));
        assert_eq!(
            test_connection(&client, &bad).await,
            Err(ProbeError::Refused { status: 401, message: "Unauthorized".into() })
        );

        let tsim = crate::telegram::simulator::Simulator::start(Default::default()).await.unwrap();
        let tcfg = crate::telegram::simulator::SimulatorConfig::default();
        let tg =
            settings(ChannelKind::Telegram, json!({"bot_token": tcfg.bot_token, "api_base_url": tsim.api_base_url()}));
        let ok = test_connection(&client, &tg).await.unwrap();
        assert!(ok.contains("@AcmeSupportBot"), "{ok}");
        let bad = settings(ChannelKind::Telegram, json!({"bot_token": "1:wrong", "api_base_url": tsim.api_base_url()}));
        let e = test_connection(&client, &bad).await.unwrap_err();
        assert!(matches!(&e, ProbeError::Refused { status: 401, .. }), "{e:?}");
        assert!(!e.to_string().contains("1:wrong"), "the token is never shown");

        // Nothing listens here: unreachable, named.
        let down = settings(ChannelKind::Telegram, json!({"bot_token": "1:x", "api_base_url": "http://127.0.0.1:9"}));
        let e = test_connection(&client, &down).await.unwrap_err();
        assert!(matches!(&e, ProbeError::Unreachable { url, .. } if url == "http://127.0.0.1:9/bot…/getMe"), "{e:?}");
        assert!(!e.to_string().contains("1:x"));
        let api = settings(ChannelKind::Api, json!({}));
        assert_eq!(test_connection(&client, &api).await, Err(ProbeError::Unsupported("api")));
    }
}
