//! Telegram's documented payloads (tests/fixtures/telegram, see SOURCES.md there): the secret
//! token check, every update parses into what an agent should see, sends are built in the
//! documented shape and errors are classified as the docs describe.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use proptest::prelude::*;
use serde_json::{Value, json};
use switchboard_channels::telegram::outbound::{build, classify, escape_html, escape_markdown_v2};
use switchboard_channels::telegram::{parse_webhook, validate_config, verify};
use switchboard_channels::{ChannelSettings, OutboundRequest, SendError, WebhookBatch};
use switchboard_domain::{ChannelKind, ChannelSlug, Visibility};

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/telegram").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn channel() -> ChannelSettings {
    ChannelSettings {
        slug: ChannelSlug::parse("tg").unwrap(),
        kind: ChannelKind::Telegram,
        secret: Some("test-secret".into()),
        config: json!({"bot_token": "7000000001:AAtest", "bot_username": "AcmeSupportBot", "api_base_url": "http://tg.test"}),
    }
}

fn parse(name: &str) -> WebhookBatch {
    parse_webhook(&channel(), &fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn the_secret_token_is_checked() {
    assert!(verify(Some("test-secret"), Some(b"test-secret")).is_ok());
    assert!(verify(Some("test-secret"), Some(b"test-secreT")).is_err());
    assert!(verify(Some("test-secret"), Some(b"test-secret2")).is_err());
    assert!(verify(Some("test-secret"), Some(b"")).is_err());
    assert!(verify(Some("test-secret"), None).is_err());
    assert!(verify(None, Some(b"test-secret")).is_err(), "a channel without a secret accepts nothing");
    assert!(verify(Some(""), Some(b"")).is_err());
}

#[test]
fn a_private_text_message() {
    let b = parse("update_message_text.json");
    assert_eq!(b.messages.len(), 1, "{:?}", b.skipped);
    let ev = &b.messages[0];
    assert_eq!(ev.provider_event_id, "msg:1111111:1365");
    assert_eq!(ev.text, "/start");
    assert_eq!(ev.contact.provider_user_id, "1111111");
    assert_eq!(ev.contact.handle.as_deref(), Some("@Testusername"));
    assert_eq!(ev.contact.display_name.as_deref(), Some("Test Firstname Test Lastname"));
    assert_eq!(ev.thread_key, "");
    assert_eq!(ev.visibility, Visibility::Private);
    assert_eq!(ev.sent_at.timestamp(), 1441645532);
    assert_eq!(ev.extra["telegram"]["update_id"], 10000);
}

#[test]
fn a_reply_names_the_message_it_answers() {
    let ev = &parse("update_message_reply.json").messages[0];
    assert_eq!(ev.extra["reply_to"], "msg:1111111:1334");
}

#[test]
fn the_largest_photo_size_is_kept_with_the_caption() {
    let ev = &parse("update_message_photo.json").messages[0];
    assert_eq!(ev.text, "The box arrived crushed");
    assert_eq!(ev.attachments.len(), 1);
    assert_eq!(ev.attachments[0].kind, "image");
    assert_eq!(ev.attachments[0].provider_id.as_deref(), Some("AgACAgIAAxkBAAIBZ2Z1example_x"));
    assert_eq!(ev.attachments[0].size, Some(79510));
}

#[test]
fn a_document() {
    let ev = &parse("update_message_document.json").messages[0];
    let a = &ev.attachments[0];
    assert_eq!(
        (a.kind.as_str(), a.filename.as_deref(), a.mime_type.as_deref()),
        ("document", Some("Testfile.pdf"), Some("application/pdf"))
    );
    assert_eq!(a.size, Some(536392));
}

#[test]
fn a_group_message_for_the_bot_and_one_that_is_not() {
    let ev = &parse("update_group_message.json").messages[0];
    assert_eq!(ev.thread_key, "chat:-1001234567890");
    assert_eq!(ev.contact.provider_user_id, "5544332211");
    assert_eq!(ev.text, "@AcmeSupportBot is the store open on Sunday?");
    let mut other: Value = serde_json::from_slice(&fixture("update_group_message.json")).unwrap();
    other["message"]["text"] = json!("@SomeoneElse is the store open on Sunday?");
    other["message"]["entities"][0]["length"] = json!(12);
    let b = parse_webhook(&channel(), other.to_string().as_bytes()).unwrap();
    assert!(b.messages.is_empty());
    assert_eq!(b.skipped.len(), 1);
    // A plain remark between members: not for the desk; a command or a reply to the bot: for it.
    other["message"]["entities"] = json!([]);
    assert!(parse_webhook(&channel(), other.to_string().as_bytes()).unwrap().messages.is_empty());
    other["message"]["text"] = json!("/help@AcmeSupportBot");
    other["message"]["entities"] = json!([{"offset": 0, "length": 20, "type": "bot_command"}]);
    assert_eq!(parse_webhook(&channel(), other.to_string().as_bytes()).unwrap().messages.len(), 1);
    other["message"]["text"] = json!("/help@OtherBot");
    other["message"]["entities"] = json!([{"offset": 0, "length": 14, "type": "bot_command"}]);
    assert!(parse_webhook(&channel(), other.to_string().as_bytes()).unwrap().messages.is_empty());
    other["message"]["text"] = json!("yes please");
    other["message"]["entities"] = json!([]);
    other["message"]["reply_to_message"] = json!({"message_id": 80, "from": {"id": 7000000001i64, "is_bot": true, "first_name": "Acme", "username": "AcmeSupportBot"},
               "chat": {"id": -1001234567890i64, "type": "supergroup"}, "date": 1, "text": "Can I help?"});
    assert_eq!(parse_webhook(&channel(), other.to_string().as_bytes()).unwrap().messages.len(), 1);
}

#[test]
fn a_mention_after_emoji_uses_utf16_offsets() {
    // "🙂 " is 3 UTF-16 units.
    let u = json!({"update_id": 5, "message": {"message_id": 1, "from": {"id": 9, "first_name": "Z"},
        "chat": {"id": -100, "type": "group"}, "date": 1, "text": "🙂 @AcmeSupportBot 你好",
        "entities": [{"offset": 3, "length": 15, "type": "mention"}]}});
    assert_eq!(parse_webhook(&channel(), u.to_string().as_bytes()).unwrap().messages.len(), 1);
}

#[test]
fn an_edit_names_the_original_it_updates() {
    let ev = &parse("update_edited_message.json").messages[0];
    assert_eq!(ev.provider_event_id, "edit:1111111:1365:1441646600");
    assert_eq!(ev.extra["edit_of"], "msg:1111111:1365");
    assert_eq!(ev.text, "Edited text");
    assert_eq!(ev.sent_at.timestamp(), 1441646600);
}

#[test]
fn channel_posts_that_address_the_bot_and_their_edits_are_taken_like_messages() {
    let chat = json!({"id": -1001234567890i64, "type": "channel", "title": "Acme news"});
    let post = json!({"update_id": 7, "channel_post": {"message_id": 44, "sender_chat": chat, "chat": chat,
        "date": 1441645532, "text": "/help@AcmeSupportBot", "entities": [{"offset": 0, "length": 20, "type": "bot_command"}]}});
    let ev = &parse_webhook(&channel(), post.to_string().as_bytes()).unwrap().messages[0];
    assert_eq!(ev.provider_event_id, "msg:-1001234567890:44");
    assert_eq!(ev.thread_key, "chat:-1001234567890");
    let edit = json!({"update_id": 8, "edited_channel_post": {"message_id": 44, "sender_chat": chat, "chat": chat,
        "date": 1441645532, "edit_date": 1441645600, "text": "/help@AcmeSupportBot please",
        "entities": [{"offset": 0, "length": 20, "type": "bot_command"}]}});
    let ev = &parse_webhook(&channel(), edit.to_string().as_bytes()).unwrap().messages[0];
    assert_eq!(ev.provider_event_id, "edit:-1001234567890:44:1441645600");
    assert_eq!(ev.extra["edit_of"], "msg:-1001234567890:44");
}

#[test]
fn callback_queries_are_kept_with_the_button_label() {
    let ev = &parse("update_callback_query_message.json").messages[0];
    assert_eq!(ev.provider_event_id, "callback:4382bfdwdsb323b2d9");
    assert_eq!(ev.text, "Yes");
    assert_eq!(ev.extra["button_data"], "csat:yes");
    assert_eq!(ev.extra["telegram"]["data"], "csat:yes");
    assert_eq!(ev.extra["reply_to"], "msg:1111111:1367");
    let ev = &parse("update_callback_query_inline_message.json").messages[0];
    assert_eq!(ev.text, "Data from button callback");
    assert_eq!(ev.thread_key, "");
}

#[test]
fn other_kinds_and_unknown_updates_are_kept() {
    let base = |m: Value| {
        let mut msg = json!({"message_id": 7, "from": {"id": 42, "first_name": "Li"}, "chat": {"id": 42, "type": "private"}, "date": 1});
        for (k, v) in m.as_object().unwrap() {
            msg[k] = v.clone();
        }
        parse_webhook(&channel(), json!({"update_id": 1, "message": msg}).to_string().as_bytes())
            .unwrap()
            .messages
            .remove(0)
    };
    let ev = base(json!({"voice": {"file_id": "v1", "duration": 3, "mime_type": "audio/ogg"}}));
    assert_eq!((ev.text.as_str(), ev.attachments[0].kind.as_str()), ("🎤 Voice message", "audio"));
    let ev = base(json!({"sticker": {"file_id": "s1", "emoji": "😀", "width": 512, "height": 512}}));
    assert_eq!((ev.text.as_str(), ev.attachments[0].kind.as_str()), ("Sticker 😀", "sticker"));
    let ev = base(json!({"location": {"latitude": 31.23, "longitude": 121.47}}));
    assert!(ev.text.starts_with("📍 Location (31.23, 121.47)"));
    let ev = base(json!({"contact": {"phone_number": "+8613800000000", "first_name": "王"}}));
    assert_eq!(ev.text, "👤 Shared contact: 王 (+8613800000000)");
    let ev = base(json!({"poll": {"id": "p"}}));
    assert_eq!(ev.text, "[Telegram poll message]");
    assert_eq!(ev.extra["raw"]["poll"]["id"], "p");
    let u = json!({"update_id": 77, "my_chat_member": {"chat": {"id": 42, "type": "private"}, "from": {"id": 42, "first_name": "Li"}, "date": 1}});
    let b = parse_webhook(&channel(), u.to_string().as_bytes()).unwrap();
    assert_eq!(b.messages[0].provider_event_id, "update:77");
    assert_eq!(b.messages[0].text, "[Telegram my_chat_member update]");
    assert_eq!(b.messages[0].extra["raw"]["date"], 1);
}

#[test]
fn bad_bodies_are_refused() {
    for body in [&b"not json"[..], b"[]", b"{}", br#"{"update_id":"x"}"#] {
        assert!(parse_webhook(&channel(), body).is_err(), "{}", String::from_utf8_lossy(body));
    }
}

fn request(text: &str, thread_key: &str, payload: Option<Value>) -> OutboundRequest {
    OutboundRequest {
        channel: channel(),
        idempotency_key: "k1".into(),
        attempt: 1,
        recipient: "1111111".into(),
        recipient_handle: None,
        thread_key: thread_key.into(),
        visibility: Visibility::Private,
        text: text.into(),
        payload,
        reply_to: Some("msg:-1001234567890:88".into()),
        last_inbound_at: Some(Utc::now()),
        queued_at: Utc::now(),
        previous_error: None,
        now: Utc::now(),
    }
}

#[test]
fn send_message_matches_the_documented_request() {
    let documented: Value = serde_json::from_slice(&fixture("sendMessage_request.json")).unwrap();
    let call = build(&request("Thanks! Your case number is #4471.", "", None)).unwrap();
    assert_eq!(call.method, "sendMessage");
    assert_eq!(call.body["chat_id"], documented["chat_id"]);
    assert_eq!(call.body["text"], documented["text"]);
    assert!(call.body.get("parse_mode").is_none(), "plain text: nothing is interpreted as markup");
    // In a group the reply answers the customer's message.
    let call = build(&request("<b>hi</b> *there*", "chat:-1001234567890", None)).unwrap();
    assert_eq!(call.body["chat_id"], -1001234567890i64);
    assert_eq!(call.body["reply_parameters"]["message_id"], 88);
    assert_eq!(call.body["text"], "<b>hi</b> *there*");
    let call = build(&request(
        "See",
        "",
        Some(json!({"type": "media", "media": {"kind": "image", "link": "https://x.test/a.jpg"}})),
    ))
    .unwrap();
    assert_eq!(
        (call.method, &call.body["photo"], &call.body["caption"]),
        ("sendPhoto", &json!("https://x.test/a.jpg"), &json!("See"))
    );
    let call = build(&request(
        "",
        "",
        Some(json!({"type": "media", "media": {"kind": "document", "link": "https://x.test/a.pdf"}})),
    ))
    .unwrap();
    assert_eq!(call.method, "sendDocument");
    let call = build(&request("Helpful?", "", Some(json!({"type": "buttons", "buttons": [{"text": "Yes", "data": "csat:yes"}, {"text": "No", "data": "csat:no"}]})))).unwrap();
    assert_eq!(call.body["reply_markup"]["inline_keyboard"][1][0]["callback_data"], "csat:no");
    assert!(build(&request("  ", "", None)).is_err());
    assert!(build(&request(&"x".repeat(4097), "", None)).is_err());
}

#[test]
fn escaping_for_parse_modes() {
    assert_eq!(escape_html("<a href=\"x\">&</a>"), "&lt;a href=\"x\"&gt;&amp;&lt;/a&gt;");
    assert_eq!(escape_markdown_v2("1.5 *bold* [x](y) 你好!"), "1\\.5 \\*bold\\* \\[x\\]\\(y\\) 你好\\!");
}

#[test]
fn errors_are_classified_as_documented() {
    let v = |n: &str| serde_json::from_slice::<Value>(&fixture(n)).unwrap();
    assert_eq!(
        classify(429, &v("error_429_retry_after.json"), ""),
        SendError::Retryable {
            reason: "Telegram 429: Too Many Requests: retry after 35".into(),
            retry_after: Some(Duration::from_secs(35))
        }
    );
    assert_eq!(
        classify(403, &v("error_403_bot_blocked.json"), ""),
        SendError::Permanent("Telegram 403: Forbidden: bot was blocked by the user".into())
    );
    assert_eq!(
        classify(400, &v("error_400_chat_not_found.json"), ""),
        SendError::Permanent("Telegram 400: Bad Request: chat not found".into())
    );
    assert!(matches!(classify(502, &Value::Null, "Bad Gateway"), SendError::Retryable { .. }));
}

#[test]
fn documented_response_and_set_webhook_shapes() {
    let r: Value = serde_json::from_slice(&fixture("sendMessage_response.json")).unwrap();
    assert_eq!((r["result"]["chat"]["id"].as_i64(), r["result"]["message_id"].as_i64()), (Some(1111111), Some(1368)));
    let w: Value = serde_json::from_slice(&fixture("setWebhook_request.json")).unwrap();
    assert_eq!(w["allowed_updates"], json!(switchboard_channels::telegram::ALLOWED_UPDATES));
}

#[test]
fn config_is_validated() {
    assert!(validate_config(&json!({"bot_token": "1:abc", "bot_username": "b"})).is_ok());
    assert!(validate_config(&json!({"bot_token": "nocolon"})).is_err());
    assert!(validate_config(&json!({"api_base_url": "ftp://x"})).is_err());
    assert!(validate_config(&json!({"bot_tokn": "1:a"})).is_err());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_webhook(&channel(), &body);
    }

    #[test]
    fn arbitrary_updates_never_panic(text in ".{0,40}", off in -5i64..60, len in -5i64..60, chat in any::<i64>(), kind in "[a-z_]{1,12}") {
        for u in [
            json!({"update_id": 1, "message": {"message_id": 1, "from": {"id": 2}, "chat": {"id": chat, "type": "group"}, "date": 1,
                   "text": text, "entities": [{"offset": off, "length": len, "type": "mention"}, {"offset": off, "length": len, "type": "bot_command"}]}}),
            json!({"update_id": 1, kind.clone(): {"text": text}}),
            json!({"update_id": 1, "edited_message": {"message_id": "x", "chat": chat}}),
            json!({"update_id": 1, "callback_query": {"id": text, "from": {"id": chat}, "message": {"reply_markup": {"inline_keyboard": [[1, {"text": 2}]]}}}}),
        ] {
            let _ = parse_webhook(&channel(), u.to_string().as_bytes());
        }
    }
}
