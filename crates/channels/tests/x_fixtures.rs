//! X's documented payloads (tests/fixtures/x, see SOURCES.md there): CRC and signature vectors,
//! every Account Activity fixture parses into what an agent should see, sends are built in the
//! documented v2 shapes, and the parser never panics.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use chrono::Utc;
use proptest::prelude::*;
use serde_json::{Value, json};
use switchboard_channels::x::outbound::{build, check_length};
use switchboard_channels::x::{XConfig, crc_response, parse_delivery, parse_webhook, signature};
use switchboard_channels::{ChannelSettings, OutboundRequest, SendError};
use switchboard_domain::{ChannelKind, ChannelSlug, Visibility};

fn fixture(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/x").join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn channel(user_id: Option<&str>) -> ChannelSettings {
    ChannelSettings {
        slug: ChannelSlug::parse("brand-x").unwrap(),
        kind: ChannelKind::X,
        secret: Some("test-secret".into()),
        config: match user_id {
            Some(u) => json!({"user_id": u, "access_token": "tok", "api_base_url": "http://127.0.0.1:9"}),
            None => Value::Null,
        },
    }
}

#[test]
fn crc_vectors_match() {
    // shared/fixtures/signatures.json, copied unchanged to tests/fixtures.
    let v: Value = serde_json::from_slice(&fixture("../signatures.json")).unwrap();
    let vectors = v["x_crc"].as_array().unwrap();
    assert_eq!(vectors.len(), 3);
    for t in vectors {
        let got = crc_response(t["secret"].as_str(), t["crc_token"].as_str()).unwrap();
        assert_eq!(got, json!({"response_token": t["response_token"]}));
    }
    let ex: Value = serde_json::from_slice(&fixture("crc_get_exchange.json")).unwrap();
    let got = crc_response(ex["consumer_secret"].as_str(), ex["request"]["query"]["crc_token"].as_str()).unwrap();
    assert_eq!(got, ex["response"]["body"]);
    assert!(crc_response(None, Some("t")).is_err());
    assert!(crc_response(Some("s"), None).is_err());
}

#[test]
fn signature_vectors_match() {
    for (file, len, sig) in [
        ("aaa_tweet_create_mention.json", 2125, "sha256=TG/naLY+QwX6T96MA436h1Hc86JLzReaad1tZkzGMPk="),
        ("aaa_direct_message_events_as_documented.json", 1607, "sha256=ASO+4Yx6YVcVOjBSf74ChP1nL8jxWjwFVYLsM7Zy518="),
        ("aaa_direct_message_events.json", 1823, "sha256=LnzybEaFYwmj99C3UHz2W2U3gI6GviQZ9VfKvzZQ/nk="),
    ] {
        let body = fixture(file);
        assert_eq!(body.len(), len, "{file}");
        assert_eq!(signature::sign(b"test-secret", &body), sig, "{file}");
        assert!(signature::verify(Some("test-secret"), Some(sig.as_bytes()), &body).is_ok());
        let mut tampered = body.clone();
        tampered[len / 2] ^= 1;
        assert!(signature::verify(Some("test-secret"), Some(sig.as_bytes()), &tampered).is_err());
    }
}

#[test]
fn a_mention_is_a_public_message_threaded_by_its_post() {
    let b = parse_webhook(&channel(None), &fixture("aaa_tweet_create_mention.json")).unwrap();
    assert_eq!(b.messages.len(), 1);
    let m = &b.messages[0];
    assert_eq!(m.provider_event_id, "978310149431005184");
    assert_eq!(m.contact.provider_user_id, "3001969357");
    assert_eq!(m.contact.handle.as_deref(), Some("@furiouscamper"));
    assert_eq!(m.contact.display_name.as_deref(), Some("Jordan Brinks"));
    assert_eq!(m.visibility, Visibility::Public);
    assert_eq!(m.thread_key, "post:978310149431005184");
    assert_eq!(m.text, "@TwitterDev my order #4471 still hasn't shipped, can you help?");
    assert_eq!(m.extra["message_type"], "mention");
    assert_eq!(m.extra["user_has_blocked"], "false");
    assert_eq!(m.sent_at.timestamp_millis(), 1522082006140);
}

#[test]
fn a_reply_to_the_brand_names_the_post_it_answers() {
    let (b, x) = parse_delivery(&channel(None), &fixture("aaa_tweet_create_reply.json")).unwrap();
    let m = &b.messages[0];
    assert_eq!(m.extra["message_type"], "reply");
    assert_eq!(m.thread_key, "post:978310230917279744");
    assert_eq!(x.reply_threads, vec![("978310301524791297".to_owned(), "978310230917279744".to_owned())]);
}

#[test]
fn the_brands_own_post_is_an_echo() {
    let mut v: Value = serde_json::from_slice(&fixture("aaa_tweet_create_reply.json")).unwrap();
    let t = &mut v["tweet_create_events"][0];
    t["user"]["id_str"] = json!("2244994945");
    t["in_reply_to_user_id_str"] = json!("3001969357");
    let b = parse_webhook(&channel(None), v.to_string().as_bytes()).unwrap();
    assert!(b.messages.is_empty());
    assert_eq!(b.echoes.len(), 1);
    assert_eq!(b.echoes[0].recipient, "3001969357");
    assert_eq!(b.echoes[0].thread_key, "post:978310230917279744");
}

#[test]
fn long_posts_use_the_full_text_and_big_ids_stay_exact() {
    let mut v: Value = serde_json::from_slice(&fixture("aaa_tweet_create_mention.json")).unwrap();
    let t = &mut v["tweet_create_events"][0];
    t["truncated"] = json!(true);
    t["extended_tweet"] = json!({"full_text": format!("@TwitterDev {}", "很长的投诉。".repeat(60))});
    // Only the numeric id, above 2^53: read exactly, never through a float.
    t.as_object_mut().unwrap().remove("id_str");
    let body = v.to_string().replace("978310149431005184", "18446744073709551615");
    let b = parse_webhook(&channel(None), body.as_bytes()).unwrap();
    assert_eq!(b.messages[0].provider_event_id, "18446744073709551615");
    assert!(b.messages[0].text.ends_with("很长的投诉。"));
    assert!(b.messages[0].text.chars().count() > 300);
    // conversation_id wins over in_reply_to when present.
    let mut v: Value = serde_json::from_slice(&fixture("aaa_tweet_create_reply.json")).unwrap();
    v["tweet_create_events"][0]["conversation_id_str"] = json!("978310149431005184");
    let (b, x) = parse_delivery(&channel(None), v.to_string().as_bytes()).unwrap();
    assert_eq!(b.messages[0].thread_key, "post:978310149431005184");
    assert!(x.reply_threads.is_empty());
}

#[test]
fn a_dm_is_private_and_names_its_sender_from_the_users_map() {
    for file in ["aaa_direct_message_events.json", "aaa_direct_message_events_as_documented.json"] {
        let b = parse_webhook(&channel(None), &fixture(file)).unwrap();
        assert_eq!(b.messages.len(), 1, "{file}");
        let m = &b.messages[0];
        assert_eq!(m.provider_event_id, "954491830116155396");
        assert_eq!(m.visibility, Visibility::Private);
        assert_eq!(m.thread_key, "");
        assert_eq!(m.text, "Hello World!");
        // Same contact key as the public post of the same person.
        assert_eq!(m.contact.provider_user_id, "3001969357");
        assert_eq!(m.contact.handle.as_deref(), Some("@furiouscamper"));
        assert_eq!(m.sent_at.timestamp_millis(), 1516403560557);
    }
    // Sent by the brand: an echo to the recipient.
    let body = String::from_utf8(fixture("aaa_direct_message_events.json")).unwrap();
    let mine = body
        .replace("\"sender_id\": \"3001969357\"", "\"sender_id\": \"4337869213\"")
        .replace("\"recipient_id\": \"4337869213\"", "\"recipient_id\": \"3001969357\"");
    let b = parse_webhook(&channel(None), mine.as_bytes()).unwrap();
    assert!(b.messages.is_empty());
    assert_eq!(b.echoes[0].recipient, "3001969357");
    assert_eq!(b.echoes[0].thread_key, "");
}

#[test]
fn likes_follows_typing_and_deletes_are_not_customer_messages() {
    let (b, x) = parse_delivery(&channel(None), &fixture("aaa_favorite_events.json")).unwrap();
    assert!(b.messages.is_empty());
    assert_eq!(x.activities.len(), 1);
    assert_eq!(x.activities[0].kind, "favorite");
    assert_eq!(x.activities[0].event_id, "a7ba59eab0bfcba386f7acedac279542");
    assert_eq!(x.activities[0].tweet_id.as_deref(), Some("978310230917279744"));
    let (b, x) = parse_delivery(&channel(None), &fixture("aaa_follow_events.json")).unwrap();
    assert!(b.messages.is_empty());
    assert_eq!(x.activities[0].kind, "follow");
    assert_eq!(x.activities[0].user_id, "3001969357");
    let (b, x) = parse_delivery(&channel(None), &fixture("aaa_direct_message_indicate_typing_events.json")).unwrap();
    assert!(b.messages.is_empty() && x.activities.is_empty());
    assert_eq!(b.skipped.len(), 1);
    let (b, x) = parse_delivery(&channel(None), &fixture("aaa_tweet_delete_events.json")).unwrap();
    assert!(b.messages.is_empty());
    assert_eq!(x.deletions[0].tweet_id, "1045405559317569537");
    assert_eq!(x.deletions[0].user_id.as_deref(), Some("930524282358325248"));
}

#[test]
fn a_delivery_for_another_account_or_of_no_known_shape_is_refused() {
    assert!(parse_webhook(&channel(Some("1")), &fixture("aaa_tweet_create_mention.json")).is_err());
    assert!(parse_webhook(&channel(None), b"{}").is_err());
    assert!(parse_webhook(&channel(None), b"[1]").is_err());
    assert!(parse_webhook(&channel(None), b"not json").is_err());
}

fn request(visibility: Visibility, thread: &str, text: &str) -> OutboundRequest {
    OutboundRequest {
        channel: channel(Some("2244994945")),
        idempotency_key: "k1".into(),
        attempt: 1,
        recipient: "3001969357".into(),
        recipient_handle: Some("@furiouscamper".into()),
        thread_key: thread.into(),
        visibility,
        text: text.into(),
        payload: None,
        reply_to: Some("1455953449422516226".into()),
        last_inbound_at: None,
        queued_at: Utc::now(),
        previous_error: None,
        now: Utc::now(),
    }
}

#[test]
fn sends_are_built_in_the_documented_shapes() {
    let cfg = XConfig::from_settings(&channel(Some("2244994945"))).unwrap();
    let call = build(&request(Visibility::Public, "post:1455953449422516226", "Excited!"), &cfg).unwrap();
    assert_eq!(call.url, "http://127.0.0.1:9/2/tweets");
    let documented: Value = serde_json::from_slice(&fixture("v2_post_tweet_reply_request.json")).unwrap();
    assert_eq!(call.body, documented);
    let mut dm = request(Visibility::Private, "", "This is a one-to-one Direct Message with an attachment");
    dm.recipient = "3001969357".into();
    let call = build(&dm, &cfg).unwrap();
    assert_eq!(call.url, "http://127.0.0.1:9/2/dm_conversations/with/3001969357/messages");
    assert_eq!(call.body["text"], "This is a one-to-one Direct Message with an attachment");
    let too_long = "中".repeat(141);
    assert!(matches!(build(&request(Visibility::Public, "post:1", &too_long), &cfg), Err(SendError::Permanent(_))));
    assert!(check_length(&"中".repeat(140)).is_ok());
    // The same long text may go as a DM (no 280 limit there).
    assert!(build(&request(Visibility::Private, "", &too_long), &cfg).is_ok());
    let mut like = request(Visibility::Public, "post:1", "");
    like.payload = Some(json!({"x_action": "like", "tweet_id": "1455953449422516226"}));
    let call = build(&like, &cfg).unwrap();
    assert_eq!(call.url, "http://127.0.0.1:9/2/users/2244994945/likes");
    assert_eq!(call.body, json!({"tweet_id": "1455953449422516226"}));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_webhook(&channel(None), &bytes);
    }

    #[test]
    fn mutated_fixtures_never_panic_and_always_yield_storable_events(
        file in prop::sample::select(vec![
            "aaa_tweet_create_mention.json", "aaa_tweet_create_reply.json", "aaa_direct_message_events.json",
            "aaa_direct_message_events_as_documented.json", "aaa_favorite_events.json", "aaa_follow_events.json",
            "aaa_tweet_delete_events.json", "aaa_direct_message_indicate_typing_events.json",
        ]),
        path_choice in any::<prop::sample::Index>(),
        replacement in prop_oneof![
            Just(Value::Null), any::<i64>().prop_map(Value::from), any::<u64>().prop_map(Value::from),
            ".{0,40}".prop_map(Value::from), Just(json!([])), Just(json!({})), Just(json!([{"x": 1}])),
            Just(Value::from("\u{0}")), any::<f64>().prop_map(Value::from),
        ],
    ) {
        let mut v: Value = serde_json::from_slice(&fixture(file)).unwrap();
        let mut paths = Vec::new();
        collect_paths(&v, String::new(), &mut paths);
        let p = path_choice.get(&paths).clone();
        if let Some(slot) = v.pointer_mut(&p) {
            *slot = replacement;
        }
        if let Ok((b, _)) = parse_delivery(&channel(None), v.to_string().as_bytes()) {
            for m in &b.messages {
                prop_assert!(m.validate().is_ok());
            }
        }
    }

    #[test]
    fn weighted_length_and_pii_scan_never_panic(s in ".{0,300}") {
        let _ = switchboard_channels::x::text::weighted_length(&s);
        let _ = switchboard_channels::x::guard::scan(&s);
    }
}

fn collect_paths(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(o) => o
            .iter()
            .for_each(|(k, c)| collect_paths(c, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| collect_paths(c, format!("{at}/{i}"), out)),
        _ => {}
    }
}

#[test]
fn polled_v2_mentions_and_dm_events_give_the_same_canonical_events() {
    use switchboard_channels::x::poll::{id_newer, parse_dm_events, parse_mentions};
    // The filtered-stream fixture carries a v2 post with its author in `includes.users`.
    let line: Value = serde_json::from_slice(&fixture("v2_filtered_stream_line.json")).unwrap();
    let page = json!({"data": [line["data"]], "includes": line["includes"]});
    let p = parse_mentions(&channel(None), "2244994945", &page);
    assert_eq!(p.newest.as_deref(), Some("1796632617041957145"));
    let m = &p.messages[0];
    assert_eq!(m.provider_event_id, "1796632617041957145");
    assert_eq!(m.contact.provider_user_id, "3001969357");
    assert_eq!(m.contact.handle.as_deref(), Some("@furiouscamper"));
    assert_eq!(m.visibility, Visibility::Public);
    assert_eq!(m.thread_key, "post:1796632617041957145");
    let dms = json!({"data": [
        {"id": "1866000000000000002", "event_type": "MessageCreate", "text": "mine", "sender_id": "2244994945", "participant_ids": ["2244994945", "3001969357"]},
        {"id": "1866000000000000001", "event_type": "MessageCreate", "text": "hello", "sender_id": "3001969357"},
        {"id": "1765000000000000000", "event_type": "MessageCreate", "text": "old", "sender_id": "3001969357"},
    ]});
    let p = parse_dm_events(&channel(None), "2244994945", &dms, Some("1800000000000000000"));
    assert_eq!(p.messages.len(), 1);
    assert_eq!(p.messages[0].text, "hello");
    assert_eq!(p.messages[0].visibility, Visibility::Private);
    assert_eq!(p.echoes[0].recipient, "3001969357");
    assert_eq!(p.newest.as_deref(), Some("1866000000000000002"));
    assert!(id_newer("10", "9") && !id_newer("9", "10"));
}

#[test]
fn buttons_become_a_numbered_list_on_x() {
    let cfg = XConfig::from_settings(&channel(Some("2244994945"))).unwrap();
    let mut dm = request(Visibility::Private, "", "How did we do?");
    dm.payload = Some(json!({"buttons": [{"text": "Great", "data": "csat:5"}, {"text": "Bad", "data": "csat:1"}]}));
    let call = build(&dm, &cfg).unwrap();
    assert!(call.url.ends_with("/2/dm_conversations/with/3001969357/messages"));
    assert_eq!(call.body["text"], "How did we do?\n\n1. Great\n2. Bad");
    let mut public = dm.clone();
    public.visibility = Visibility::Public;
    public.thread_key = "post:1455953449422516226".into();
    let call = build(&public, &cfg).unwrap();
    assert_eq!(call.body["text"], "How did we do?\n\n1. Great\n2. Bad");
    // The length check counts the list too.
    let labels: Vec<Value> = (0..20).map(|i| json!({"text": format!("A fairly long choice number {i}")})).collect();
    public.payload = Some(json!({ "buttons": labels }));
    assert!(matches!(build(&public, &cfg), Err(SendError::Permanent(r)) if r.contains("280")));
}
