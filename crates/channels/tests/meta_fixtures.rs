//! Meta's documented payloads (tests/fixtures, see SOURCES.md there): signatures verify, every
//! webhook parses into what an agent should see, sends are built in the documented shapes and
//! errors are classified as the docs describe.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use chrono::{Duration, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use switchboard_channels::meta::outbound::{build, classify};
use switchboard_channels::meta::{MetaConfig, parse_webhook, signature, verify_subscription};
use switchboard_channels::{ChannelSettings, OutboundRequest, SendError, WebhookBatch};
use switchboard_domain::{ChannelKind, ChannelSlug, DeliveryStatus, Visibility};

fn fixture(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn json_fixture(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).unwrap()
}

fn channel(kind: ChannelKind) -> ChannelSettings {
    ChannelSettings {
        slug: ChannelSlug::parse(kind.as_str()).unwrap(),
        kind,
        secret: Some("test-secret".into()),
        config: json!({"verify_token": "meatyhamhock", "access_token": "tok", "phone_number_id": "106540352242922",
            "page_id": "682498171943165", "ig_account_id": "17841405726653026", "graph_base_url": "http://graph.test/v23.0"}),
    }
}

fn parse(kind: ChannelKind, path: &str) -> WebhookBatch {
    parse_webhook(&channel(kind), &fixture(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_signature_vector_matches() {
    let sigs = json_fixture("signatures.json");
    let mut checked = 0;
    for v in sigs["webhook_bodies"].as_array().unwrap() {
        let file = v["file"].as_str().unwrap();
        if !["whatsapp/", "messenger/", "instagram/"].iter().any(|p| file.starts_with(p)) {
            continue;
        }
        let body = fixture(file);
        assert_eq!(body.len() as u64, v["body_bytes"].as_u64().unwrap(), "{file}");
        let header = v["value"].as_str().unwrap();
        let secret = v["secret"].as_str().unwrap();
        assert_eq!(signature::sign(secret.as_bytes(), &body), header, "{file}");
        assert!(signature::verify(Some(secret), Some(header.as_bytes()), &body).is_ok(), "{file}");
        let mut tampered = body.clone();
        tampered[body.len() / 2] ^= 1;
        assert!(signature::verify(Some(secret), Some(header.as_bytes()), &tampered).is_err(), "{file}");
        assert!(signature::verify(Some("wrong"), Some(header.as_bytes()), &body).is_err(), "{file}");
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} vectors");
}

#[test]
fn the_subscription_handshake_follows_the_documented_exchange() {
    let ex = json_fixture("whatsapp/verify_get_exchange.json");
    let q = &ex["request"]["query"];
    let cfg = MetaConfig::from_settings(&channel(ChannelKind::Whatsapp)).unwrap();
    let got =
        verify_subscription(&cfg, q["hub.mode"].as_str(), q["hub.verify_token"].as_str(), q["hub.challenge"].as_str());
    assert_eq!(got.unwrap(), ex["response_if_token_matches"]["body"].as_str().unwrap());
    assert!(verify_subscription(&cfg, Some("subscribe"), Some("wrong"), Some("1")).is_err());
    assert!(verify_subscription(&cfg, Some("unsubscribe"), Some("meatyhamhock"), Some("1")).is_err());
    assert!(verify_subscription(&MetaConfig::default(), Some("subscribe"), Some(""), Some("1")).is_err());
}

#[test]
fn every_webhook_fixture_parses() {
    let dirs = [
        ("whatsapp", ChannelKind::Whatsapp),
        ("messenger", ChannelKind::Messenger),
        ("instagram", ChannelKind::Instagram),
    ];
    let mut n = 0;
    for (dir, kind) in dirs {
        for f in std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir)).unwrap()
        {
            let name = f.unwrap().file_name().into_string().unwrap();
            let v = json_fixture(&format!("{dir}/{name}"));
            if v.get("entry").is_none() {
                continue; // send requests/responses, errors, the handshake
            }
            let b = parse(kind, &format!("{dir}/{name}"));
            let produced = b.messages.len() + b.statuses.len() + b.echoes.len() + b.reads.len();
            assert!(produced > 0, "{dir}/{name} produced nothing: {:?}", b.skipped);
            assert!(b.skipped.is_empty(), "{dir}/{name}: {:?}", b.skipped);
            for m in &b.messages {
                m.validate().unwrap();
                assert!(m.extra.contains_key("raw"), "{dir}/{name}: raw JSON not kept");
            }
            n += 1;
        }
    }
    assert_eq!(n, 38);
}

#[test]
fn whatsapp_message_types_read_as_an_agent_expects() {
    let text = parse(ChannelKind::Whatsapp, "whatsapp/text.json");
    let m = &text.messages[0];
    assert_eq!(m.provider_event_id, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=");
    assert_eq!(m.text, "Does it come in another color?");
    assert_eq!(m.contact.provider_user_id, "16505551234");
    assert_eq!(m.contact.handle.as_deref(), Some("+16505551234"));
    assert_eq!(m.contact.display_name.as_deref(), Some("Sheena Nelson"));
    assert_eq!(m.visibility, Visibility::Private);
    assert_eq!(m.sent_at.timestamp(), 1749416383);

    let img = &parse(ChannelKind::Whatsapp, "whatsapp/image.json").messages[0];
    assert_eq!(img.text, "Taj Mahal");
    assert_eq!(img.attachments[0].kind, "image");
    assert_eq!(img.attachments[0].provider_id.as_deref(), Some("1003383421387256"));
    assert_eq!(img.attachments[0].mime_type.as_deref(), Some("image/jpeg"));

    let cases = [
        ("whatsapp/location.json", "📍 Philz Coffee, 101 Forest Ave, Palo Alto, CA 94301"),
        ("whatsapp/contacts.json", "Barbara J. Johnson (+1 (415) 555-0829)"),
        ("whatsapp/interactive_button_reply.json", "button-text"),
        ("whatsapp/interactive_list_reply.json", ""),
        ("whatsapp/reaction.json", "Reacted 👍 to a message"),
        ("whatsapp/template_quick_reply_button.json", "No"),
        ("whatsapp/referral_ctwa.json", "Is the blue jacket in stock?"),
        ("whatsapp/unsupported_type.json", "Unsupported WhatsApp message type: edit (error 131051"),
        ("whatsapp/unknown_type_131051_legacy.json", "Unsupported WhatsApp message type: unknown (error 131051"),
        ("whatsapp/context_reply_message_business_button.json", "Is this still available?"),
    ];
    for (file, want) in cases {
        let b = parse(ChannelKind::Whatsapp, file);
        assert_eq!(b.messages.len(), 1, "{file}");
        assert!(b.messages[0].text.contains(want), "{file}: {:?}", b.messages[0].text);
    }
    let ctx = &parse(ChannelKind::Whatsapp, "whatsapp/context_reply_message_business_button.json").messages[0];
    assert_eq!(ctx.extra["reply_to"], "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGA9wcm9kdWN0X2lucXVpcnkA");
    assert!(ctx.extra["raw"]["context"]["referred_product"].is_object());
    let ad = &parse(ChannelKind::Whatsapp, "whatsapp/referral_ctwa.json").messages[0];
    assert_eq!(ad.extra["referral"]["source_type"], "ad");
    let unsupported = &parse(ChannelKind::Whatsapp, "whatsapp/unsupported_type.json").messages[0];
    assert_eq!(unsupported.extra["message_type"], "unsupported");
    assert_eq!(unsupported.extra["raw"]["unsupported"]["type"], "edit");
}

#[test]
fn whatsapp_usernames_key_the_contact_on_the_business_scoped_id() {
    let b = parse(ChannelKind::Whatsapp, "whatsapp/bsuid_username_text.json");
    let m = &b.messages[0];
    assert_eq!(m.contact.provider_user_id, "US.13491208655302741918");
    assert_eq!(m.contact.handle.as_deref(), Some("+16505551234"));
    assert_eq!(m.extra["whatsapp"]["username"], "pablomorales");
    assert_eq!(m.extra["whatsapp"]["parent_user_id"], "US.ENT.11815799212886844830");
    assert_eq!(m.extra["whatsapp"]["wa_id"], "16505551234");
    assert!(m.thread_key.starts_with("group:"), "group messages get their own thread");
    assert_eq!(b.identity_links.len(), 1);
    assert_eq!(b.identity_links[0].alias, "16505551234");

    // A username-only customer (no phone at all) still has a stable key and a handle.
    let mut v = json_fixture("whatsapp/bsuid_username_text.json");
    let value = &mut v["entry"][0]["changes"][0]["value"];
    value["contacts"][0].as_object_mut().unwrap().remove("wa_id");
    value["messages"][0].as_object_mut().unwrap().remove("from");
    let b = parse_webhook(&channel(ChannelKind::Whatsapp), v.to_string().as_bytes()).unwrap();
    assert_eq!(b.messages[0].contact.provider_user_id, "US.13491208655302741918");
    assert_eq!(b.messages[0].contact.handle.as_deref(), Some("@pablomorales"));
    assert!(b.identity_links.is_empty());
}

#[test]
fn whatsapp_batches_and_statuses() {
    let b = parse(ChannelKind::Whatsapp, "whatsapp/batch_multi_entry.json");
    assert_eq!(b.messages.len(), 2);
    assert_eq!(b.statuses.len(), 1);
    assert_eq!(b.messages[1].text, "Where is my order?");
    assert_eq!(b.messages[1].extra["whatsapp"]["phone_number_id"], "227040397163384");
    for (file, want) in [
        ("whatsapp/status_sent.json", DeliveryStatus::Sent),
        ("whatsapp/status_delivered.json", DeliveryStatus::Delivered),
        ("whatsapp/status_read.json", DeliveryStatus::Read),
        ("whatsapp/status_failed_131049.json", DeliveryStatus::Failed),
        ("whatsapp/status_failed_131047.json", DeliveryStatus::Failed),
    ] {
        let b = parse(ChannelKind::Whatsapp, file);
        assert!(b.messages.is_empty(), "{file}: a status is not a customer message");
        assert_eq!(b.statuses[0].status, want, "{file}");
    }
    let failed = parse(ChannelKind::Whatsapp, "whatsapp/status_failed_131047.json");
    let reason = failed.statuses[0].reason.clone().unwrap();
    assert!(reason.contains("131047") && reason.contains("Re-engagement") && reason.contains("24 hours"), "{reason}");
}

#[test]
fn messenger_events() {
    let text = &parse(ChannelKind::Messenger, "messenger/message_text.json").messages[0];
    assert_eq!(
        (text.provider_event_id.as_str(), text.text.as_str()),
        ("mid.1457764197618:41d102a3e1ae206a38", "hello, world!")
    );
    assert_eq!(text.contact.provider_user_id, "1254459154682919");
    assert_eq!(text.sent_at.timestamp_millis(), 1458692752478);

    let att = &parse(ChannelKind::Messenger, "messenger/message_attachments.json").messages[0];
    assert_eq!(att.attachments[0].kind, "image");
    assert!(att.attachments[0].url.as_deref().unwrap().ends_with("receipt_photo.jpg"));

    let qr = &parse(ChannelKind::Messenger, "messenger/message_quick_reply.json").messages[0];
    assert_eq!(qr.text, "Red");
    assert_eq!(qr.extra["quick_reply_payload"], "DEVELOPER_DEFINED_PAYLOAD_FOR_PICKING_RED");

    let pb = &parse(ChannelKind::Messenger, "messenger/postback.json").messages[0];
    assert_eq!(pb.text, "Talk to an agent");
    assert_eq!(pb.extra["postback_payload"], "TALK_TO_AGENT");
    assert!(pb.provider_event_id.starts_with("m_rKhJ"));

    let r = &parse(ChannelKind::Messenger, "messenger/reaction.json").messages[0];
    assert_eq!(r.text, "Reacted ❤️ to a message");

    let echo = parse(ChannelKind::Messenger, "messenger/message_echo.json");
    assert!(echo.messages.is_empty(), "an echo is never a customer message");
    assert_eq!(echo.echoes[0].recipient, "1254459154682919");
    assert!(echo.echoes[0].sent_by_switchboard);
    assert_eq!(echo.echoes[0].switchboard_key.as_deref(), Some("agent:42"));

    let d = parse(ChannelKind::Messenger, "messenger/delivery.json");
    assert_eq!(d.statuses[0].status, DeliveryStatus::Delivered);
    assert_eq!(d.statuses[0].provider_message_id, "mid.1458668856218:ed81099e15d3f4f233");
    let rd = parse(ChannelKind::Messenger, "messenger/read.json");
    assert_eq!(rd.reads[0].watermark.timestamp_millis(), 1458668856253);

    let batch = parse(ChannelKind::Messenger, "messenger/batched_entries.json");
    assert_eq!(batch.messages.len(), 2);
    assert_eq!(batch.statuses.len(), 1);
}

#[test]
fn instagram_dms_comments_and_mentions() {
    let dm = &parse(ChannelKind::Instagram, "instagram/dm_text.json").messages[0];
    assert_eq!(dm.text, "Hi! Do you have this in size M?");
    assert_eq!(dm.visibility, Visibility::Private);

    let story = &parse(ChannelKind::Instagram, "instagram/dm_story_reply.json").messages[0];
    assert_eq!(story.extra["message_type"], "story_reply");
    assert_eq!(story.extra["story"]["id"], "18012345678901234");
    let mention = &parse(ChannelKind::Instagram, "instagram/dm_story_mention.json").messages[0];
    assert_eq!(mention.text, "[Mentioned you in their story]");
    assert_eq!(mention.attachments[0].kind, "story_mention");
    let inline = &parse(ChannelKind::Instagram, "instagram/dm_inline_reply.json").messages[0];
    assert!(inline.extra["reply_to"].as_str().unwrap().starts_with("aWdf"));

    let echo = parse(ChannelKind::Instagram, "instagram/dm_echo.json");
    assert!(echo.messages.is_empty());
    assert_eq!(echo.echoes[0].recipient, "527184321609283");
    assert!(!echo.echoes[0].sent_by_switchboard);

    for file in ["instagram/comments_fb_login.json", "instagram/comments_ig_login.json"] {
        let c = &parse(ChannelKind::Instagram, file).messages[0];
        assert_eq!(c.visibility, Visibility::Public, "{file}");
        assert_eq!(c.provider_event_id, "17865799348089039");
        assert_eq!(c.thread_key, "post:17918195224117851");
        assert_eq!(c.contact.handle.as_deref(), Some("@test_user"));
        assert_eq!(c.text, "This is an example.");
    }
    let m = &parse(ChannelKind::Instagram, "instagram/mentions_comment.json").messages[0];
    assert_eq!(m.visibility, Visibility::Public);
    assert_eq!(m.provider_event_id, "17894227972186120");
    assert_eq!(m.thread_key, "mention:17918195224117851");
    let mm = &parse(ChannelKind::Instagram, "instagram/mentions_media.json").messages[0];
    assert_eq!(mm.provider_event_id, "media:17918195224117851");
}

#[test]
fn a_webhook_for_another_product_is_refused() {
    let err = parse_webhook(&channel(ChannelKind::Messenger), &fixture("whatsapp/text.json")).unwrap_err();
    assert!(err.to_string().contains("whatsapp_business_account"), "{err}");
    assert!(parse_webhook(&channel(ChannelKind::Whatsapp), b"{").is_err());
    assert!(parse_webhook(&channel(ChannelKind::Whatsapp), b"{\"object\":\"whatsapp_business_account\"}").is_err());
}

fn request(kind: ChannelKind, text: &str) -> OutboundRequest {
    OutboundRequest {
        channel: channel(kind),
        idempotency_key: "0192f0c0-0000-7000-8000-000000000001".into(),
        attempt: 1,
        recipient: "16505551234".into(),
        recipient_handle: Some("+16505551234".into()),
        thread_key: String::new(),
        visibility: Visibility::Private,
        text: text.into(),
        payload: None,
        reply_to: None,
        last_inbound_at: Some(Utc::now() - Duration::hours(1)),
        queued_at: Utc::now(),
        previous_error: None,
        now: Utc::now(),
    }
}

#[test]
fn sends_are_built_in_the_documented_shapes() {
    let cfg = |k| MetaConfig::from_settings(&channel(k)).unwrap();
    // WhatsApp template (allowed outside the window).
    let doc = json_fixture("whatsapp/send_template_request.json");
    let mut req = request(ChannelKind::Whatsapp, "order_update");
    req.last_inbound_at = None;
    req.payload = Some(json!({"type": "template", "template": doc["template"]}));
    let call = build(&req, &cfg(ChannelKind::Whatsapp)).unwrap();
    assert_eq!(call.url, "http://graph.test/v23.0/106540352242922/messages");
    assert_eq!(call.body, doc);

    // WhatsApp text.
    let doc = json_fixture("whatsapp/send_text_request.json");
    let req = request(ChannelKind::Whatsapp, doc["text"]["body"].as_str().unwrap());
    let mut want = doc.clone();
    want.as_object_mut().unwrap().remove("context");
    assert_eq!(build(&req, &cfg(ChannelKind::Whatsapp)).unwrap().body, want);

    // Free-form outside the window is refused before any call.
    let mut late = request(ChannelKind::Whatsapp, "hello");
    late.last_inbound_at = Some(Utc::now() - Duration::hours(25));
    assert!(matches!(build(&late, &cfg(ChannelKind::Whatsapp)), Err(SendError::Permanent(r)) if r.contains("24-hour")));

    // Messenger: RESPONSE inside 24 h, with our metadata for echo recognition.
    let doc = json_fixture("messenger/send_request.json");
    let mut req = request(ChannelKind::Messenger, "hello, world!");
    req.recipient = "1254459154682919".into();
    let mut body = build(&req, &cfg(ChannelKind::Messenger)).unwrap().body;
    assert!(body["message"]["metadata"].as_str().unwrap().starts_with("switchboard:"));
    body["message"].as_object_mut().unwrap().remove("metadata");
    assert_eq!(body, doc);
    // HUMAN_AGENT only where enabled, up to 7 days.
    req.last_inbound_at = Some(Utc::now() - Duration::days(3));
    assert!(build(&req, &cfg(ChannelKind::Messenger)).is_err());
    req.channel.config["human_agent_tag"] = json!(true);
    let c = MetaConfig::from_settings(&req.channel).unwrap();
    let body = build(&req, &c).unwrap().body;
    assert_eq!((body["messaging_type"].as_str(), body["tag"].as_str()), (Some("MESSAGE_TAG"), Some("HUMAN_AGENT")));

    // Instagram DM, public comment reply, private reply to a comment.
    let doc = json_fixture("instagram/send_dm_request.json");
    let mut req = request(ChannelKind::Instagram, "We have size M in stock!");
    req.recipient = "527184321609283".into();
    assert_eq!(build(&req, &cfg(ChannelKind::Instagram)).unwrap().body, doc);
    let doc = json_fixture("instagram/public_comment_reply_request.json");
    let mut req = request(ChannelKind::Instagram, doc["message"].as_str().unwrap());
    req.thread_key = "post:17918195224117851".into();
    req.visibility = Visibility::Public;
    req.reply_to = Some("17865799348089039".into());
    req.last_inbound_at = None;
    let call = build(&req, &cfg(ChannelKind::Instagram)).unwrap();
    assert!(call.url.ends_with("/17865799348089039/replies"));
    assert_eq!(call.body, json!({"message": doc["message"]}));
    let doc = json_fixture("instagram/private_reply_to_comment_request.json");
    req.visibility = Visibility::Private;
    req.text = doc["message"]["text"].as_str().unwrap().into();
    assert_eq!(build(&req, &cfg(ChannelKind::Instagram)).unwrap().body, doc);
}

#[test]
fn errors_are_classified_as_documented() {
    let body = |f: &str| String::from_utf8(fixture(f)).unwrap();
    match classify(400, &body("whatsapp/error_130429_rate_limit.json"), None) {
        SendError::Retryable { retry_after: Some(_), reason } => assert!(reason.contains("130429")),
        other => panic!("{other:?}"),
    }
    for f in [
        "whatsapp/error_131047_reengagement.json",
        "whatsapp/error_131026_undeliverable.json",
        "messenger/send_error_outside_window.json",
        "messenger/send_error_user_unavailable.json",
    ] {
        match classify(400, &body(f), None) {
            SendError::Permanent(r) => assert!(r.contains("error"), "{f}: {r}"),
            other => panic!("{f}: {other:?}"),
        }
    }
    let r = classify(400, &body("whatsapp/error_131047_reengagement.json"), None).to_string();
    assert!(r.contains("131047") && r.contains("24 hours"), "{r}");
    assert!(matches!(classify(503, "oops", None), SendError::Retryable { .. }));
    assert!(matches!(classify(429, "", None), SendError::Retryable { .. }));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        for kind in [ChannelKind::Whatsapp, ChannelKind::Messenger, ChannelKind::Instagram] {
            let _ = parse_webhook(&channel(kind), &bytes);
        }
    }

    #[test]
    fn mutated_fixtures_never_panic_and_always_yield_storable_events(
        file in prop::sample::select(vec![
            ("whatsapp/text.json", ChannelKind::Whatsapp), ("whatsapp/bsuid_username_text.json", ChannelKind::Whatsapp),
            ("whatsapp/batch_multi_entry.json", ChannelKind::Whatsapp), ("whatsapp/status_failed_131047.json", ChannelKind::Whatsapp),
            ("whatsapp/contacts.json", ChannelKind::Whatsapp), ("messenger/batched_entries.json", ChannelKind::Messenger),
            ("messenger/message_echo.json", ChannelKind::Messenger), ("instagram/comments_fb_login.json", ChannelKind::Instagram),
            ("instagram/dm_story_reply.json", ChannelKind::Instagram), ("instagram/mentions_comment.json", ChannelKind::Instagram),
        ]),
        path_choice in any::<prop::sample::Index>(),
        replacement in prop_oneof![
            Just(Value::Null), any::<i64>().prop_map(Value::from), ".{0,40}".prop_map(Value::from),
            Just(json!([])), Just(json!({})), Just(json!([{"x": 1}])), Just(Value::from("\u{0}")),
        ],
    ) {
        let (file, kind) = file;
        let mut v = json_fixture(file);
        // Replace one value anywhere in the document.
        let mut paths = Vec::new();
        collect_paths(&v, String::new(), &mut paths);
        let p = path_choice.get(&paths).clone();
        if let Some(slot) = v.pointer_mut(&p) {
            *slot = replacement;
        }
        if let Ok(b) = parse_webhook(&channel(kind), v.to_string().as_bytes()) {
            for m in &b.messages {
                prop_assert!(m.validate().is_ok());
            }
        }
    }
}

fn collect_paths(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| collect_paths(x, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| collect_paths(x, format!("{at}/{i}"), out)),
        _ => {}
    }
}

#[test]
fn pressed_buttons_carry_their_data_and_their_label_as_text() {
    let cases = [
        (
            ChannelKind::Whatsapp,
            "whatsapp/interactive_button_reply.json",
            "button-text",
            "unique-button-identifier-here",
        ),
        (ChannelKind::Whatsapp, "whatsapp/interactive_list_reply.json", "Priority Mail Express", "priority_express"),
        (ChannelKind::Whatsapp, "whatsapp/template_quick_reply_button.json", "No", "No-Button-Payload"),
        (
            ChannelKind::Messenger,
            "messenger/message_quick_reply.json",
            "Red",
            "DEVELOPER_DEFINED_PAYLOAD_FOR_PICKING_RED",
        ),
        (ChannelKind::Messenger, "messenger/postback.json", "Talk to an agent", "TALK_TO_AGENT"),
    ];
    for (kind, file, label, data) in cases {
        let ev = &parse(kind, file).messages[0];
        assert_eq!(ev.text, label, "{file}");
        assert_eq!(ev.extra["button_data"], data, "{file}");
    }
    // Instagram messaging uses Messenger's shapes: a quick reply and a postback on an IG account.
    let mut qr = json_fixture("messenger/message_quick_reply.json");
    qr["object"] = json!("instagram");
    let mut pb = json_fixture("messenger/postback.json");
    pb["object"] = json!("instagram");
    for (body, label, data) in
        [(qr, "Red", "DEVELOPER_DEFINED_PAYLOAD_FOR_PICKING_RED"), (pb, "Talk to an agent", "TALK_TO_AGENT")]
    {
        let b = parse_webhook(&channel(ChannelKind::Instagram), body.to_string().as_bytes()).unwrap();
        assert_eq!(b.messages[0].text, label);
        assert_eq!(b.messages[0].extra["button_data"], data);
    }
    // Plain messages carry none.
    let text = &parse(ChannelKind::Whatsapp, "whatsapp/text.json").messages[0];
    assert!(text.extra.get("button_data").is_none());
}

fn with_buttons(mut req: OutboundRequest, labels: &[&str]) -> OutboundRequest {
    let buttons: Vec<Value> =
        labels.iter().enumerate().map(|(i, l)| json!({"text": l, "data": format!("bot:choice:{i}")})).collect();
    req.payload = Some(json!({"buttons": buttons}));
    req
}

#[test]
fn buttons_go_out_as_reply_buttons_lists_or_quick_replies_with_a_numbered_fallback() {
    let cfg = |k| MetaConfig::from_settings(&channel(k)).unwrap();
    let wa = |labels: &[&str]| {
        build(&with_buttons(request(ChannelKind::Whatsapp, "Did this help?"), labels), &cfg(ChannelKind::Whatsapp))
            .unwrap()
            .body
    };
    // Up to three short labels: interactive reply buttons.
    let b = wa(&["Yes 👍", "No"]);
    assert_eq!(b["type"], "interactive");
    assert_eq!(b["interactive"]["type"], "button");
    assert_eq!(b["interactive"]["body"]["text"], "Did this help?");
    assert_eq!(
        b["interactive"]["action"]["buttons"],
        json!([{"type": "reply", "reply": {"id": "bot:choice:0", "title": "Yes 👍"}},
               {"type": "reply", "reply": {"id": "bot:choice:1", "title": "No"}}])
    );
    // Four to ten (or a label over 20 characters): a list.
    let b = wa(&["1", "2", "3", "4", "5"]);
    assert_eq!(b["interactive"]["type"], "list");
    assert_eq!(b["interactive"]["action"]["button"], "Choose");
    assert_eq!(b["interactive"]["action"]["sections"][0]["rows"][4], json!({"id": "bot:choice:4", "title": "5"}));
    assert_eq!(wa(&["A label of 21 chars!!", "No"])["interactive"]["type"], "list");
    // More than ten: numbered text.
    let many: Vec<String> = (1..=11).map(|i| format!("Option {i}")).collect();
    let b = wa(&many.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(b["type"], "text");
    assert!(b["text"]["body"].as_str().unwrap().ends_with("10. Option 10\n11. Option 11"));

    // Messenger / Instagram: quick replies up to 13 with titles up to 20.
    for kind in [ChannelKind::Messenger, ChannelKind::Instagram] {
        let b = build(&with_buttons(request(kind, "How was it?"), &["😀 Great", "😐 OK", "🙁 Bad"]), &cfg(kind))
            .unwrap()
            .body;
        assert_eq!(b["message"]["text"], "How was it?");
        assert_eq!(
            b["message"]["quick_replies"][0],
            json!({"content_type": "text", "title": "😀 Great", "payload": "bot:choice:0"})
        );
        assert_eq!(b["message"]["quick_replies"].as_array().unwrap().len(), 3);
        let long = build(&with_buttons(request(kind, "Pick"), &["A label that is far too long", "B"]), &cfg(kind))
            .unwrap()
            .body;
        assert!(long["message"].get("quick_replies").is_none());
        assert_eq!(long["message"]["text"], "Pick\n\n1. A label that is far too long\n2. B");
    }
    // A malformed list is refused with the reason.
    let mut bad = request(ChannelKind::Messenger, "x");
    bad.payload = Some(json!({"buttons": [{"data": "no-label"}]}));
    assert!(matches!(build(&bad, &cfg(ChannelKind::Messenger)), Err(SendError::Permanent(r)) if r.contains("no text")));
}

#[test]
fn buttons_typed_payloads_as_surveys_send_them_go_out_as_buttons_too() {
    // Surveys ask with `{"type": "buttons", "buttons": [...]}` (crates/engine/src/surveys.rs): the
    // same choices as an untyped payload, not an unknown reply type.
    let cfg = |k| MetaConfig::from_settings(&channel(k)).unwrap();
    let typed = |kind, n: usize| {
        let mut req = with_buttons(
            request(kind, "How satisfied are you?"),
            &["⭐", "⭐⭐", "⭐⭐⭐", "⭐⭐⭐⭐", "⭐⭐⭐⭐⭐"][..n],
        );
        req.payload.as_mut().unwrap()["type"] = json!("buttons");
        build(&req, &cfg(kind)).unwrap().body
    };
    let b = typed(ChannelKind::Whatsapp, 5);
    assert_eq!((b["type"].as_str(), b["interactive"]["type"].as_str()), (Some("interactive"), Some("list")));
    assert_eq!(
        b["interactive"]["action"]["sections"][0]["rows"][4],
        json!({"id": "bot:choice:4", "title": "⭐⭐⭐⭐⭐"})
    );
    assert_eq!(typed(ChannelKind::Whatsapp, 3)["interactive"]["type"], "button");
    for kind in [ChannelKind::Messenger, ChannelKind::Instagram] {
        let b = typed(kind, 5);
        assert_eq!(b["message"]["quick_replies"].as_array().map(Vec::len), Some(5), "{kind:?}");
        assert_eq!(b["message"]["quick_replies"][0]["payload"], "bot:choice:0");
    }
}
