//! Satisfaction surveys on Meta channels, end to end over loopback HTTP: a conversation on
//! WhatsApp (and on Messenger) is answered and resolved through the API, the survey job asks
//! CSAT through the outbox, the Graph API simulator receives it as interactive choices (a
//! WhatsApp list, Messenger quick replies), and the customer's press — a signed webhook from the
//! simulator — is recorded on the survey without reopening the conversation.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::meta::{CHANNELS, MetaApp, spawn_meta};
use serde_json::json;
use switchboard_channels::meta::simulator::{SentRequest, SimulatorConfig};
use switchboard_domain::ChannelKind;
use switchboard_engine::EngineConfig;
use switchboard_engine::report_job::QualityConfig;
use switchboard_engine::surveys::SurveyConfig;
use switchboard_store::DynStore;
use switchboard_store::quality::{SurveySettings, SurveyState};

async fn spawn() -> MetaApp {
    let app = spawn_meta(SimulatorConfig::default(), |_| {
        let mut cfg = EngineConfig {
            quality: QualityConfig {
                surveys: SurveyConfig { enabled: true, tick: Duration::from_millis(100), public_url: None },
                reports: false,
                rollups: false,
                ..Default::default()
            },
            ..Default::default()
        };
        cfg.outbox.poll = Duration::from_millis(50);
        cfg.outbox.base_backoff = Duration::from_millis(20);
        cfg
    })
    .await;
    for (_, slug) in CHANNELS {
        // Surveys only ask about conversations resolved after the settings were saved: now.
        app.store
            .put_survey_settings(&SurveySettings {
                channel: slug.into(),
                csat: true,
                nps: false,
                delay_minutes: 0,
                min_days_between: 0,
            })
            .await
            .unwrap();
    }
    app
}

impl MetaApp {
    /// The id of the only conversation on `channel`, once the customer's message is in it.
    async fn conversation_on(&self, channel: &str) -> String {
        for _ in 0..200 {
            let list = self.get(&format!("/api/v1/conversations?channel={channel}")).await;
            if let Some(id) = list["items"].as_array().and_then(|a| a.first()).and_then(|c| c["id"].as_str()) {
                return id.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no conversation on {channel}");
    }

    /// Answers and resolves conversation `id` as an agent.
    async fn answer_and_resolve(&self, id: &str) {
        let path = format!("/api/v1/conversations/{id}/messages");
        assert_eq!(self.post(&path, json!({"text": "Sent again today."})).await.0, 201);
        let path = format!("/api/v1/conversations/{id}");
        assert_eq!(self.send(reqwest::Method::PATCH, &path, json!({"status": "resolved"})).await.0, 200);
    }

    /// The first send to `kind` that `pick` accepts.
    async fn sent_where(&self, kind: ChannelKind, pick: impl Fn(&SentRequest) -> bool) -> SentRequest {
        for _ in 0..200 {
            if let Some(s) = self.sim.sent().into_iter().find(|s| s.kind == kind && pick(s)) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the simulator never received the expected {kind:?} send: {:#?}", self.sim.sent());
    }

    async fn status_of(&self, id: &str) -> String {
        self.get(&format!("/api/v1/conversations/{id}")).await["conversation"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// The survey id in a button's data (`csat:<id>:<score>`).
fn survey_id(data: &str) -> uuid::Uuid {
    let mut parts = data.split(':');
    assert_eq!(parts.next(), Some("csat"), "{data}");
    parts.next().unwrap().parse().unwrap()
}

async fn answered(store: &DynStore, id: uuid::Uuid) -> switchboard_store::quality::Survey {
    for _ in 0..200 {
        let s = store.get_survey(id).await.unwrap().unwrap();
        if s.state == SurveyState::Answered {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("survey {id} was never answered");
}

#[tokio::test]
async fn whatsapp_survey_arrives_as_a_list_and_a_pressed_row_is_the_answer() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let customer = &switchboard_channels::meta::simulator::Traffic::customers()[1];
    let hello = traffic.whatsapp_text(customer, "My parcel never arrived");
    assert_eq!(traffic.post(ChannelKind::Whatsapp, &traffic.whatsapp_payload(customer, vec![hello])).await, Some(200));
    let id = app.conversation_on("wa").await;
    app.answer_and_resolve(&id).await;

    // Five stars do not fit three reply buttons: an interactive list, one row per score.
    let asked = app.sent_where(ChannelKind::Whatsapp, |s| s.body["type"] == "interactive").await;
    let interactive = &asked.body["interactive"];
    assert_eq!(interactive["type"], "list", "{}", asked.body);
    assert!(interactive["body"]["text"].as_str().unwrap().starts_with("How satisfied are you"));
    let rows = interactive["action"]["sections"][0]["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[3]["title"], "⭐⭐⭐⭐");
    let data = rows[3]["id"].as_str().unwrap().to_owned();
    assert!(data.ends_with(":4"), "{data}");
    let survey = survey_id(&data);
    assert_eq!(app.store.get_survey(survey).await.unwrap().unwrap().state, SurveyState::Sent);

    // The customer taps the fourth row: WhatsApp posts an `interactive.list_reply`.
    let mut press = traffic.whatsapp_text(customer, "");
    press["type"] = json!("interactive");
    press.as_object_mut().unwrap().remove("text");
    press["interactive"] = json!({"type": "list_reply", "list_reply": {"id": data, "title": "⭐⭐⭐⭐"}});
    assert_eq!(traffic.post(ChannelKind::Whatsapp, &traffic.whatsapp_payload(customer, vec![press])).await, Some(200));
    let s = answered(&app.store, survey).await;
    assert_eq!((s.score, s.answered_via.as_deref()), (Some(4), Some("button")));
    assert_eq!(app.status_of(&id).await, "resolved", "an answer does not reopen the conversation");
}

#[tokio::test]
async fn messenger_survey_arrives_as_quick_replies_and_a_press_is_the_answer() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let customer = &switchboard_channels::meta::simulator::Traffic::customers()[2];
    assert_eq!(
        traffic.post(ChannelKind::Messenger, &traffic.messenger_text(customer, "Where is my refund?")).await,
        Some(200)
    );
    let id = app.conversation_on("fb").await;
    app.answer_and_resolve(&id).await;

    let asked = app.sent_where(ChannelKind::Messenger, |s| s.body["message"].get("quick_replies").is_some()).await;
    let replies = asked.body["message"]["quick_replies"].as_array().unwrap().clone();
    assert_eq!(replies.len(), 5, "{}", asked.body);
    let data = replies[4]["payload"].as_str().unwrap().to_owned();
    let survey = survey_id(&data);

    let mut press = traffic.messenger_text(customer, "⭐⭐⭐⭐⭐");
    press["entry"][0]["messaging"][0]["message"]["quick_reply"] = json!({"payload": data});
    assert_eq!(traffic.post(ChannelKind::Messenger, &press).await, Some(200));
    let s = answered(&app.store, survey).await;
    assert_eq!((s.score, s.answered_via.as_deref()), (Some(5), Some("button")));
    assert_eq!(app.status_of(&id).await, "resolved");
}
