//! Admin settings pages over HTTP: teams and members, SLA policies, business-hours calendars,
//! automation rules and canned replies. Roles, CSRF, round-trips, refused input changing nothing,
//! audit entries with before/after. The real router on port 0 against a fresh SQLite database.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Browser, PASSWORD, Setup, hidden, ingest, spawn, spawn_app, textarea};
use reqwest::StatusCode;
use serde_json::json;
use switchboard_domain::routing::{AssignmentPolicy, MemberRole};
use switchboard_domain::{ChannelKind, ChannelSlug};
use switchboard_store::ChannelRecord;

const PAGES: &[&str] = &["/admin/teams", "/admin/sla", "/admin/calendars", "/admin/rules", "/admin/canned"];

#[tokio::test]
async fn agents_and_supervisors_cannot_open_or_change_admin_settings() {
    let app = spawn_app().await;
    app.store
        .create_team(&switchboard_store::routing::TeamInput {
            name: "billing".into(),
            description: "Money".into(),
            assignment_policy: AssignmentPolicy::Manual,
            calendar: None,
        })
        .await
        .unwrap();
    for who in ["lin@x.io", "sue@x.io"] {
        let mut b = Browser::new(&app);
        b.login(who, PASSWORD).await;
        let csrf = b.csrf().await;
        for path in PAGES.iter().copied().chain(["/admin/teams/billing"]) {
            let p = b.get(path).await;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "{who} {path}");
            assert!(p.body.contains("You do not have permission"), "{path}");
        }
        // The REST API lets only admins change routing settings, supervisors included; so does the UI.
        let p = b
            .post(
                "/admin/teams/billing",
                &[("_csrf", &csrf), ("description", "Hacked"), ("assignment_policy", "round_robin")],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{who}");
        let p = b.post("/admin/teams", &[("_csrf", &csrf), ("name", "mine"), ("assignment_policy", "manual")]).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{who}");
        let me = app.store.find_user_by_email(who).await.unwrap().unwrap();
        let p = b
            .post(
                "/admin/teams/billing/members",
                &[("_csrf", &csrf), ("user_id", &me.id.to_string()), ("role", "manager")],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{who}");
        let p = b.post("/admin/sla", &[("_csrf", &csrf), ("doc", r#"{"name":"x"}"#)]).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{who}");
        let p = b
            .post(
                "/admin/canned",
                &[("_csrf", &csrf), ("shortcut", "x"), ("title", "X"), ("lang_0", "en"), ("text_0", "Hi")],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{who}");
    }
    let team = app.store.get_team("billing").await.unwrap().unwrap();
    assert_eq!((team.description.as_str(), team.assignment_policy), ("Money", AssignmentPolicy::Manual));
    assert!(app.store.get_team("mine").await.unwrap().is_none());
    assert!(app.store.list_team_members("billing").await.unwrap().is_empty());
    assert!(app.store.list_sla_policies().await.unwrap().is_empty());
    assert!(app.store.list_canned(None).await.unwrap().is_empty());
    assert!(app.audit_actions().await.iter().all(|(a, _, _)| a.starts_with("session.") || a.starts_with("login")));

    // Admins see the sections; agents do not see the admin menu at all.
    let mut admin = Browser::new(&app);
    admin.login("admin@x.io", PASSWORD).await;
    for path in PAGES {
        let p = admin.get(path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}");
        for other in PAGES {
            assert!(p.body.contains(&format!("href=\"{other}\"")), "{path} links {other}");
        }
    }
}

#[tokio::test]
async fn admins_manage_teams_and_members() {
    let app = spawn_app().await;
    let mut admin = Browser::new(&app);
    admin.login("admin@x.io", PASSWORD).await;
    let csrf = admin.csrf().await;
    let p = admin
        .post(
            "/admin/teams",
            &[
                ("_csrf", &csrf),
                ("name", "billing"),
                ("description", "Money"),
                ("assignment_policy", "least_busy"),
                ("calendar", ""),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/admin/teams/billing"));
    let team = app.store.get_team("billing").await.unwrap().unwrap();
    assert_eq!(team.assignment_policy, AssignmentPolicy::LeastBusy);
    let p = admin.get("/admin/teams").await;
    assert!(p.body.contains("billing") && p.body.contains("Money") && p.body.contains("Least busy"), "{}", p.body);

    // Refused: a bad name, an unknown policy, an unknown calendar. Nothing changes.
    for (name, policy, calendar) in [("Bad Name", "manual", ""), ("ok", "random", ""), ("ok2", "manual", "nope")] {
        let p = admin
            .post(
                "/admin/teams",
                &[("_csrf", &csrf), ("name", name), ("assignment_policy", policy), ("calendar", calendar)],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{name} {policy} {calendar}: {}", p.body);
        assert!(
            p.body.contains("class=\"error\"") || p.body.contains("role=\"alert\"") || p.body.contains("<h1"),
            "{}",
            p.body
        );
    }
    let p = admin
        .post(
            "/admin/teams/billing",
            &[("_csrf", &csrf), ("description", "X"), ("assignment_policy", "manual"), ("calendar", "nope")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("nope"), "{}", p.body);
    assert_eq!(app.store.list_teams().await.unwrap().len(), 1);
    assert_eq!(app.store.get_team("billing").await.unwrap().unwrap(), team);

    // Without the CSRF token nothing happens.
    let p = admin.post("/admin/teams/billing", &[("description", "X"), ("assignment_policy", "manual")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);

    // Edit: policy and description.
    let p = admin
        .post(
            "/admin/teams/billing",
            &[("_csrf", &csrf), ("description", "Refunds"), ("assignment_policy", "skill_match"), ("calendar", "")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let team = app.store.get_team("billing").await.unwrap().unwrap();
    assert_eq!((team.description.as_str(), team.assignment_policy), ("Refunds", AssignmentPolicy::SkillMatch));

    // Members: skills and capacity per channel.
    let lin = app.store.find_user_by_email("lin@x.io").await.unwrap().unwrap();
    let lin_id = lin.id.to_string();
    let p = admin.get("/admin/teams/billing").await;
    assert!(p.body.contains(&lin_id), "lin is offered as a new member");
    let member = |capacity: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("user_id", lin_id.clone()),
            ("role", "supervisor".to_owned()),
            ("languages", "en, zh".to_owned()),
            ("channels", "shop".to_owned()),
            ("intents", "refund".to_owned()),
            ("capacity", capacity.to_owned()),
        ]
    };
    let form = member("shop=3, *=5");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = admin.post("/admin/teams/billing/members", &form).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let members = app.store.list_team_members("billing").await.unwrap();
    assert_eq!(members.len(), 1);
    let m = &members[0];
    assert_eq!(m.role, MemberRole::Supervisor);
    assert_eq!(m.skills.languages, vec!["en", "zh"]);
    assert_eq!(m.skills.intents, vec!["refund"]);
    assert_eq!(m.capacity.get("shop"), Some(&3));
    assert_eq!(m.capacity.get("*"), Some(&5));
    let p = admin.get("/admin/teams/billing").await;
    assert!(p.body.contains("value=\"*=5, shop=3\""), "{}", p.body);

    // A capacity that is not a number is refused and the member keeps theirs.
    let form = member("shop=lots");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = admin.post("/admin/teams/billing/members", &form).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("shop=lots"), "{}", p.body);
    assert_eq!(&app.store.list_team_members("billing").await.unwrap()[0], m);

    let p = admin.post(&format!("/admin/teams/billing/members/{lin_id}/remove"), &[("_csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(app.store.list_team_members("billing").await.unwrap().is_empty());
    let p = admin.post("/admin/teams/billing/delete", &[("_csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(app.store.get_team("billing").await.unwrap().is_none());

    let actions = app.audit_actions().await;
    for (action, before, after) in [
        ("team.create", false, true),
        ("team.update", true, true),
        ("team.member.put", false, true),
        ("team.member.remove", true, false),
        ("team.delete", true, false),
    ] {
        assert!(actions.contains(&(action.to_owned(), before, after)), "{action} in {actions:?}");
    }
    // Refused changes left no entry.
    assert_eq!(actions.iter().filter(|(a, _, _)| a == "team.update").count(), 1);
    assert_eq!(actions.iter().filter(|(a, _, _)| a == "team.member.put").count(), 1);
    let p = admin.get("/admin/audit?action=team.update").await;
    assert!(p.body.contains("Refunds") && p.body.contains("least_busy"), "before and after are shown");
}

#[tokio::test]
async fn sla_policies_calendars_and_rules_are_edited_as_checked_documents() {
    let app = spawn_app().await;
    let mut admin = Browser::new(&app);
    admin.login("admin@x.io", PASSWORD).await;
    let csrf = admin.csrf().await;

    // The example on each "new" form is accepted as it is.
    for kind in ["calendars", "sla", "rules"] {
        let page = admin.get(&format!("/admin/{kind}")).await;
        let doc = textarea(&page.body, "id=\"doc-new\"", "doc");
        if kind == "rules" {
            // The example routes to a team; it must exist.
            app.store
                .create_team(&switchboard_store::routing::TeamInput {
                    name: "billing".into(),
                    description: String::new(),
                    assignment_policy: AssignmentPolicy::Manual,
                    calendar: None,
                })
                .await
                .unwrap();
        }
        let p = admin
            .post(&format!("/admin/{kind}"), &[("_csrf", &csrf), ("name", "berlin"), ("position", "10"), ("doc", &doc)])
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{kind}: {}", p.body);
    }
    let policies = app.store.list_sla_policies().await.unwrap();
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0].position, 10);
    assert_eq!(policies[0].policy.warn_at_percent, Some(75));
    let cal = app.store.get_calendar("berlin").await.unwrap().unwrap();
    assert_eq!(cal.spec.time_zone, "Europe/Berlin");
    assert_eq!(cal.spec.special_dates.len(), 1, "the holiday is kept");
    let rules = app.store.list_rules().await.unwrap();
    assert_eq!(rules.len(), 1);

    // Refused documents: shown again with the reason, nothing stored.
    let bad_sla =
        json!({"name": "Too eager", "first_response": {"minutes": 10, "basis": "calendar"}, "warn_at_percent": 150})
            .to_string();
    let p = admin.post("/admin/sla", &[("_csrf", &csrf), ("position", "1"), ("doc", &bad_sla)]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("role=\"alert\"") && p.body.contains("Too eager"), "the reason and the text: {}", p.body);
    let p = admin.post("/admin/sla", &[("_csrf", &csrf), ("position", "1"), ("doc", "{\"name\": ")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("not a valid document"), "{}", p.body);
    let p = admin.post("/admin/sla", &[("_csrf", &csrf), ("position", "first"), ("doc", &bad_sla)]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.store.list_sla_policies().await.unwrap(), policies);

    let bad_rule = json!({"name": "Empty", "events": ["conversation_created"], "conditions": [{"field": "time_of_day", "from": "25:00", "to": "26:00"}], "actions": [{"type": "add_tags", "tags": ["x"]}]}).to_string();
    let p = admin.post("/admin/rules", &[("_csrf", &csrf), ("position", "1"), ("doc", &bad_rule)]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(p.body.contains("role=\"alert\""));
    let p = admin
        .post("/admin/rules", &[("_csrf", &csrf), ("doc", r#"{"name": "x", "events": ["never"], "actions": []}"#)])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.store.list_rules().await.unwrap(), rules);

    let bad_cal = json!({"time_zone": "Mars/Olympus", "weekly": []}).to_string();
    let p = admin.post("/admin/calendars", &[("_csrf", &csrf), ("name", "mars"), ("doc", &bad_cal)]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("Mars/Olympus"), "{}", p.body);
    // "New" never replaces a calendar of the same name.
    let p = admin
        .post(
            "/admin/calendars",
            &[("_csrf", &csrf), ("name", "berlin"), ("doc", r#"{"time_zone": "UTC", "always_open": true}"#)],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.store.get_calendar("mars").await.unwrap().is_none());
    assert_eq!(app.store.get_calendar("berlin").await.unwrap().unwrap(), cal);

    // Edit a policy in place: the error is shown next to it when refused.
    let id = policies[0].id.to_string();
    let mut policy = serde_json::to_value(&policies[0].policy).unwrap();
    policy["warn_at_percent"] = json!(120);
    let p = admin
        .post(&format!("/admin/sla/{id}"), &[("_csrf", &csrf), ("position", "10"), ("doc", &policy.to_string())])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.store.list_sla_policies().await.unwrap(), policies);
    policy["warn_at_percent"] = json!(50);
    let p = admin
        .post(&format!("/admin/sla/{id}"), &[("_csrf", &csrf), ("position", "20"), ("doc", &policy.to_string())])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let after = app.store.list_sla_policies().await.unwrap();
    assert_eq!((after[0].position, after[0].policy.warn_at_percent), (20, Some(50)));

    // Calendar edit: add a holiday.
    let mut spec = serde_json::to_value(&cal.spec).unwrap();
    spec["special_dates"]
        .as_array_mut()
        .unwrap()
        .push(json!({"date": "2027-01-01", "name": "New Year", "intervals": []}));
    let p = admin.post("/admin/calendars/berlin", &[("_csrf", &csrf), ("doc", &spec.to_string())]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(app.store.get_calendar("berlin").await.unwrap().unwrap().spec.special_dates.len(), 2);

    // Delete a rule.
    let p = admin.post(&format!("/admin/rules/{}/delete", rules[0].id), &[("_csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(app.store.list_rules().await.unwrap().is_empty());

    let actions = app.audit_actions().await;
    for (action, before, after) in [
        ("sla_policy.create", false, true),
        ("sla_policy.update", true, true),
        ("calendar.create", false, true),
        ("calendar.update", true, true),
        ("automation_rule.create", false, true),
        ("automation_rule.delete", true, false),
    ] {
        assert!(actions.contains(&(action.to_owned(), before, after)), "{action} in {actions:?}");
    }
    assert_eq!(
        actions.iter().filter(|(a, _, _)| a.starts_with("sla_policy.")).count(),
        2,
        "refused changes leave no entry"
    );
}

#[tokio::test]
async fn admins_manage_canned_replies_with_variables_and_team_scope() {
    let app = spawn_app().await;
    app.store
        .create_team(&switchboard_store::routing::TeamInput {
            name: "billing".into(),
            description: String::new(),
            assignment_policy: AssignmentPolicy::Manual,
            calendar: None,
        })
        .await
        .unwrap();
    let mut admin = Browser::new(&app);
    admin.login("admin@x.io", PASSWORD).await;
    let csrf = admin.csrf().await;
    let p = admin
        .post(
            "/admin/canned",
            &[
                ("_csrf", &csrf),
                ("shortcut", "refund"),
                ("title", "Refund policy"),
                ("team", "billing"),
                ("lang_0", "en"),
                ("text_0", "Hi {{contact.first_name}}, case {{case_number}}."),
                ("lang_1", "zh"),
                ("text_1", "您好 {{contact.first_name}}"),
                ("lang_2", ""),
                ("text_2", ""),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let list = app.store.list_canned(Some("billing")).await.unwrap();
    assert_eq!(list.len(), 1);
    let c = &list[0];
    assert_eq!(c.team.as_deref(), Some("billing"));
    assert_eq!(c.variants.len(), 2);
    assert!(app.store.list_canned(None).await.unwrap().is_empty(), "team-scoped, not global");
    let p = admin.get("/admin/canned").await;
    assert!(p.body.contains("/refund") && p.body.contains("您好"), "{}", p.body);

    // Refused: an unknown variable, a text without language, a duplicate language. Nothing changes.
    for form in [
        vec![("lang_0", "en"), ("text_0", "Hi {{contact.shoe_size}}")],
        vec![("lang_0", ""), ("text_0", "Hi")],
        vec![("lang_0", "en"), ("text_0", "Hi"), ("lang_1", "en"), ("text_1", "Hello")],
        vec![("lang_0", "en"), ("text_0", "   ")],
    ] {
        let mut f = vec![("_csrf", csrf.as_str()), ("shortcut", "refund"), ("title", "Refund")];
        f.extend(form.iter().copied());
        let p = admin.post(&format!("/admin/canned/{}", c.id), &f).await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}: {}", p.body);
        let p = admin.post("/admin/canned", &[f.as_slice(), &[("shortcut", "other")]].concat()).await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
    }
    let p = admin
        .post(
            &format!("/admin/canned/{}", c.id),
            &[("_csrf", &csrf), ("shortcut", "refund"), ("title", "R"), ("lang_0", "en"), ("text_0", "{{nope")],
        )
        .await;
    assert!(p.body.contains("unclosed"), "{}", p.body);
    assert_eq!(&app.store.list_canned(Some("billing")).await.unwrap()[0], c);
    assert_eq!(app.store.list_canned(Some("billing")).await.unwrap().len(), 1);

    // Edit: make it global, drop the Chinese text.
    let p = admin
        .post(
            &format!("/admin/canned/{}", c.id),
            &[
                ("_csrf", &csrf),
                ("shortcut", "refund"),
                ("title", "Refunds"),
                ("team", ""),
                ("lang_0", "en"),
                ("text_0", "Hello {{agent.name}}"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let global = app.store.list_canned(None).await.unwrap();
    assert_eq!(global.len(), 1);
    assert_eq!((global[0].title.as_str(), global[0].variants.len()), ("Refunds", 1));
    let p = admin.post(&format!("/admin/canned/{}/delete", c.id), &[("_csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(app.store.list_canned(None).await.unwrap().is_empty());
    let actions = app.audit_actions().await;
    assert!(actions.contains(&("canned.create".into(), false, true)));
    assert!(actions.contains(&("canned.update".into(), true, true)));
    assert!(actions.contains(&("canned.delete".into(), true, false)));
    assert_eq!(actions.iter().filter(|(a, _, _)| a == "canned.update").count(), 1);
}

#[tokio::test]
async fn test_connection_calls_the_provider_with_the_stored_credentials() {
    let app = spawn_app().await;
    let tg = switchboard_channels::telegram::simulator::Simulator::start(Default::default()).await.unwrap();
    let meta = switchboard_channels::meta::simulator::Simulator::start(Default::default()).await.unwrap();
    let mcfg = meta.config().clone();
    let channels = [
        ("tg", ChannelKind::Telegram, json!({"bot_token": tg.config().bot_token, "api_base_url": tg.api_base_url()})),
        ("tg-bad", ChannelKind::Telegram, json!({"bot_token": "1:revoked", "api_base_url": tg.api_base_url()})),
        (
            "wa",
            ChannelKind::Whatsapp,
            json!({"access_token": mcfg.access_token, "phone_number_id": mcfg.phone_number_id, "graph_base_url": meta.graph_base_url()}),
        ),
        (
            "wa-bad",
            ChannelKind::Whatsapp,
            json!({"access_token": "expired", "phone_number_id": mcfg.phone_number_id, "graph_base_url": meta.graph_base_url()}),
        ),
    ];
    for (slug, kind, config) in &channels {
        app.store
            .upsert_channel(&ChannelRecord {
                slug: ChannelSlug::parse(slug).unwrap(),
                kind: *kind,
                name: (*slug).into(),
                callback_url: None,
                secret: None,
                config: config.clone(),
                created_at: chrono::Utc::now(),
            })
            .await
            .unwrap();
    }
    let mut admin = Browser::new(&app);
    admin.login("admin@x.io", PASSWORD).await;
    let csrf = admin.csrf().await;
    let p = admin.get("/admin/channels/tg").await;
    assert!(p.body.contains("action=\"/admin/channels/tg/test\""), "the button is on the page");
    assert!(
        !admin.get("/admin/channels/shop").await.body.contains("/test\""),
        "the API channel has no provider to test"
    );

    let p = admin.post("/admin/channels/tg/test", &[("_csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("Connected: Telegram bot @AcmeSupportBot"), "{}", p.body);
    let p = admin.post("/admin/channels/tg-bad/test", &[("_csrf", &csrf)]).await;
    assert!(p.body.contains("Connection failed: the provider answered 401: Unauthorized"), "{}", p.body);
    assert!(!p.body.contains("1:revoked"), "the token is not shown");
    let p = admin.post("/admin/channels/wa/test", &[("_csrf", &csrf)]).await;
    assert!(p.body.contains("Connected: WhatsApp number +1 555-010-0199"), "{}", p.body);
    let p = admin.post("/admin/channels/wa-bad/test", &[("_csrf", &csrf)]).await;
    assert!(p.body.contains("Invalid OAuth access token. (code 190)"), "{}", p.body);

    // Admins only, with the CSRF token.
    assert_eq!(admin.post("/admin/channels/tg/test", &[]).await.status, StatusCode::FORBIDDEN);
    let mut agent = Browser::new(&app);
    agent.login("lin@x.io", PASSWORD).await;
    let csrf = agent.csrf().await;
    assert_eq!(agent.post("/admin/channels/tg/test", &[("_csrf", &csrf)]).await.status, StatusCode::FORBIDDEN);
}

/// Fails to sign in as `email` from `forwarded_for` (sent as `X-Forwarded-For`).
async fn fail_from(b: &mut Browser<'_>, email: &str, forwarded_for: &str) -> StatusCode {
    let form = b.get("/login").await;
    let csrf = hidden(&form.body, "_csrf");
    let r = b
        .http
        .post(format!("{}/login", b.base))
        .header("cookie", b.cookie_header())
        .header("x-forwarded-for", forwarded_for)
        .form(&[("email", email), ("password", "wrong password"), ("_csrf", &csrf), ("next", "/inbox")])
        .send()
        .await
        .unwrap();
    b.page(r).await.status
}

#[tokio::test]
async fn the_sign_in_throttle_believes_forwarded_addresses_only_from_trusted_proxies() {
    // Behind a trusted proxy (the tests connect from 127.0.0.1): each forwarded client has its
    // own budget, so one client's guesses do not lock out everyone behind the proxy.
    let app = spawn(Setup { trusted_proxies: vec!["127.0.0.0/8"], ..Setup::default() }).await;
    let mut b = Browser::new(&app);
    for i in 0..30 {
        assert_eq!(fail_from(&mut b, &format!("guess{i}@x.io"), "203.0.113.5").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(fail_from(&mut b, "another@x.io", "203.0.113.5").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(fail_from(&mut b, "another@x.io", "203.0.113.6").await, StatusCode::UNAUTHORIZED);

    // Not behind a trusted proxy: the header is ignored, so rotating it does not evade the limit.
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    for i in 0..30 {
        let forged = format!("198.51.100.{i}");
        assert_eq!(fail_from(&mut b, &format!("guess{i}@x.io"), &forged).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(fail_from(&mut b, "another@x.io", "198.51.100.200").await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_inbox_filters_by_language_and_sentiment_and_sorts_by_sla_due() {
    let app = spawn_app().await;
    let en = ingest(&app, "i1", "mia", "my parcel never arrived").await;
    let zh = ingest(&app, "i2", "li", "退款什么时候到账").await;
    for (case, language, sentiment) in [(&en, "en", "negative"), (&zh, "zh", "neutral")] {
        let conv = app
            .store
            .get_conversation_by_case(switchboard_domain::CaseNumber::parse(case).unwrap())
            .await
            .unwrap()
            .unwrap();
        let msg = &app.store.list_messages(conv.id).await.unwrap()[0];
        app.store
            .save_triage(vec![switchboard_store::triage::MessageTriage {
                message_id: msg.id,
                conversation_id: conv.id,
                language: language.into(),
                language_confidence: 0.9,
                sentiment: sentiment.into(),
                sentiment_score: 0.0,
                intent: "other".into(),
                intent_confidence: 0.5,
                intent_by_agent: false,
                priority: "P3".into(),
                priority_reasons: vec![],
                pii: vec![],
                redacted_text: String::new(),
                intent_model_version: None,
                created_at: chrono::Utc::now(),
            }])
            .await
            .unwrap();
    }
    let mut b = Browser::new(&app);
    b.login("lin@x.io", PASSWORD).await;
    let p = b.get("/inbox?view=all&language=zh").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains(&zh) && !p.body.contains(&en), "{}", p.body);
    let p = b.get("/inbox?view=all&sentiment=negative").await;
    assert!(p.body.contains(&en) && !p.body.contains(&zh));
    assert!(p.body.contains("<option value=\"negative\" selected>"), "the filter is kept in the form");
    let p = b.get("/inbox/rows?view=all&language=en&sentiment=neutral").await;
    assert!(!p.body.contains(&en) && !p.body.contains(&zh));
    // Links to other pages keep the filters.
    let p = b.get("/inbox?view=all&language=zh&sort=sla").await;
    assert!(p.body.contains(&zh));
    assert!(p.body.contains("<option value=\"sla\" selected>SLA due first</option>"), "{}", p.body);
    assert!(p.body.contains("language=zh"), "view links keep the language");
    for bad in ["/inbox?sentiment=angry", "/inbox?language=e%20n", "/inbox?language=xxxxxxxxxxxxxxxxxx"] {
        assert_eq!(b.get(bad).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // Text search: three characters or more go through the full-text index; shorter ones too.
    let p = b.get("/inbox?view=all&q=%E4%BB%80%E4%B9%88%E6%97%B6").await; // 什么时
    assert!(p.body.contains(&zh) && !p.body.contains(&en));
    let p = b.get("/inbox?view=all&q=ARRIV").await;
    assert!(p.body.contains(&en) && !p.body.contains(&zh));
    let p = b.get("/inbox?view=all&q=%E9%80%80%E6%AC%BE").await; // 退款
    assert!(p.body.contains(&zh) && !p.body.contains(&en));
}

#[tokio::test]
async fn agents_keep_notes_on_the_contact_in_the_side_panel() {
    let app = spawn_app().await;
    let case = ingest(&app, "n1", "mia", "where is my order").await;
    let mut lin = Browser::new(&app);
    lin.login("lin@x.io", PASSWORD).await;
    let csrf = lin.csrf().await;
    let p = lin.get(&format!("/c/{case}")).await;
    assert!(p.body.contains("No notes on this contact yet."), "{}", p.body);

    let p = lin.post(&format!("/c/{case}/notes"), &[("_csrf", &csrf), ("body", "Prefers <b>email</b>")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some(format!("/c/{case}#notes").as_str()));
    let p = lin.get(&format!("/c/{case}")).await;
    assert!(p.body.contains("Prefers &#60;b&#62;email&#60;/b&#62;"), "escaped: {}", p.body);
    assert!(p.body.contains("Lin · <time>"), "author and time");
    let conv = app
        .store
        .get_conversation_by_case(switchboard_domain::CaseNumber::parse(&case).unwrap())
        .await
        .unwrap()
        .unwrap();
    let notes = app.store.list_contact_notes(conv.contact_id).await.unwrap();
    assert_eq!(notes.len(), 1);
    let note = notes[0].clone();
    assert!(p.body.contains(&format!("/c/{case}/notes/{}", note.id)), "the author may edit");

    // Refused: empty, no CSRF token. Nothing changes.
    assert_eq!(
        lin.post(&format!("/c/{case}/notes"), &[("_csrf", &csrf), ("body", "   ")]).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(lin.post(&format!("/c/{case}/notes"), &[("body", "sneaky")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.store.list_contact_notes(conv.contact_id).await.unwrap().len(), 1);

    // Another agent sees the note but may not edit it; a supervisor may.
    let mut sam = Browser::new(&app);
    sam.login("sam@x.io", PASSWORD).await;
    let sam_csrf = sam.csrf().await;
    let p = sam.get(&format!("/c/{case}")).await;
    assert!(p.body.contains("Prefers &#60;b&#62;email"));
    assert!(!p.body.contains(&format!("/notes/{}", note.id)));
    let edit = format!("/c/{case}/notes/{}", note.id);
    assert_eq!(sam.post(&edit, &[("_csrf", &sam_csrf), ("body", "Hacked")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.store.get_contact_note(note.id).await.unwrap().unwrap().body, note.body);

    let p = lin.post(&edit, &[("_csrf", &csrf), ("body", "Prefers phone")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let mut sue = Browser::new(&app);
    sue.login("sue@x.io", PASSWORD).await;
    let sue_csrf = sue.csrf().await;
    assert_eq!(
        sue.post(&edit, &[("_csrf", &sue_csrf), ("body", "Prefers phone, mornings")]).await.status,
        StatusCode::SEE_OTHER
    );
    let after = app.store.get_contact_note(note.id).await.unwrap().unwrap();
    assert_eq!((after.body.as_str(), after.author_id), ("Prefers phone, mornings", note.author_id));
    let p = lin.get(&format!("/c/{case}")).await;
    assert!(p.body.contains("edited <time>"), "{}", p.body);
    // A note is reached only through its own contact's conversations.
    let other = ingest(&app, "n2", "leo", "another person").await;
    let p = lin.post(&format!("/c/{other}/notes/{}", note.id), &[("_csrf", &csrf), ("body", "x")]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    let actions = app.audit_actions().await;
    assert_eq!(actions.iter().filter(|a| a.0 == "contact.note.update" && a.1 && a.2).count(), 2);
}

#[tokio::test]
async fn admins_set_surveys_per_channel_and_others_cannot() {
    let app = spawn_app().await;
    for who in ["lin@x.io", "sue@x.io"] {
        let mut b = Browser::signed_in(&app, who).await;
        let csrf = b.csrf().await;
        assert_eq!(b.get("/admin/surveys").await.status, StatusCode::FORBIDDEN, "{who}");
        let p = b
            .post(
                "/admin/surveys/shop",
                &[("_csrf", &csrf), ("csat", "1"), ("delay_minutes", "5"), ("min_days_between", "7")],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{who}");
    }
    assert!(app.store.survey_settings().await.unwrap().is_empty());
    let mut b = Browser::signed_in(&app, "admin@x.io").await;
    let p = b.get("/admin/surveys").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("action=\"/admin/surveys/shop\""), "{}", p.body);
    let csrf = hidden(&p.body, "_csrf");
    for (delay, days, why) in
        [("99999", "7", "delay_minutes"), ("5", "x", "min_days_between"), ("5", "400", "min_days_between")]
    {
        let p = b
            .post(
                "/admin/surveys/shop",
                &[("_csrf", &csrf), ("csat", "1"), ("delay_minutes", delay), ("min_days_between", days)],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(p.body.contains(why), "{}", p.body);
    }
    assert!(app.store.survey_settings().await.unwrap().is_empty());
    let p = b
        .post(
            "/admin/surveys/shop",
            &[("_csrf", &csrf), ("nps", "1"), ("delay_minutes", "60"), ("min_days_between", "14")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let s = app.store.survey_settings().await.unwrap();
    assert_eq!((s[0].csat, s[0].nps, s[0].delay_minutes, s[0].min_days_between), (false, true, 60, 14));
    assert_eq!(
        b.post("/admin/surveys/nope", &[("_csrf", &csrf), ("delay_minutes", "1"), ("min_days_between", "1")])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(app.audit_actions().await.contains(&("survey.settings".to_owned(), false, true)));
}

/// The fields of a valid `POST /admin/bot/shop` form.
fn bot_form(csrf: &str) -> Vec<(&'static str, String)> {
    vec![
        ("_csrf", csrf.to_owned()),
        ("enabled", "1".into()),
        ("min_confidence", "0.6".into()),
        ("negative_sentiment", "-0.5".into()),
        ("handoff_priorities", "P1".into()),
        ("default_locale", "en".into()),
    ]
}

async fn post_bot(b: &mut Browser<'_>, form: &[(&'static str, String)]) -> common::Page {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post("/admin/bot/shop", &pairs).await
}

#[tokio::test]
async fn a_malformed_bot_form_gets_the_400_page_and_changes_nothing() {
    let app = spawn_app().await;
    let without = |csrf: &str, field: &str| -> Vec<(&'static str, String)> {
        bot_form(csrf).into_iter().filter(|(k, _)| *k != field).collect()
    };
    // An agent is refused before the form is read.
    let mut agent = Browser::signed_in(&app, "lin@x.io").await;
    let csrf = agent.csrf().await;
    assert_eq!(post_bot(&mut agent, &without(&csrf, "min_confidence")).await.status, StatusCode::FORBIDDEN);

    let mut b = Browser::signed_in(&app, "admin@x.io").await;
    let csrf = b.csrf().await;
    let bad_forms = [
        // A required field missing.
        without(&csrf, "min_confidence"),
        // Nothing but the token.
        vec![("_csrf", csrf.clone())],
        // The form is read before the token: a malformed form without one is still a 400.
        without("", "default_locale"),
    ];
    for form in bad_forms {
        let p = post_bot(&mut b, &form).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST);
        assert_eq!(p.content_type.as_deref(), Some("text/html; charset=utf-8"));
        assert!(p.body.contains("The form was incomplete or invalid."), "{}", p.body);
    }
    assert_eq!(app.store.bot_settings("shop").await.unwrap(), None);
    assert!(!app.audit_actions().await.iter().any(|a| a.0 == "bot.settings"));
    // The same form whole is saved.
    let p = post_bot(&mut b, &bot_form(&csrf)).await;
    assert_eq!((p.status, p.location.as_deref()), (StatusCode::SEE_OTHER, Some("/admin/bot?saved=1")));
    assert_eq!(app.store.bot_settings("shop").await.unwrap().unwrap()["enabled"], json!(true));
}

#[tokio::test]
async fn admin_changes_over_the_api_are_audited_like_the_pages() {
    use reqwest::Method;
    let app = spawn_app().await;
    let lin = app.store.list_users().await.unwrap().into_iter().find(|u| u.email == "lin@x.io").unwrap();
    app.api(Method::POST, "/api/v1/teams", json!({"name": "billing", "description": "Money"})).await;
    app.api(Method::PUT, "/api/v1/teams/billing", json!({"name": "billing", "description": "Invoices"})).await;
    app.api(Method::PUT, &format!("/api/v1/teams/billing/members/{}", lin.id), json!({})).await;
    let cal = json!({"time_zone": "Europe/Berlin", "weekly": [{"day": "mon", "intervals": [{"start": "09:00", "end": "17:00"}]}]});
    app.api(Method::PUT, "/api/v1/calendars/berlin", cal).await;
    let canned = app
        .api(
            Method::POST,
            "/api/v1/canned-replies",
            json!({"shortcut": "hi", "title": "Hi", "variants": {"en": "Hello"}}),
        )
        .await;
    let id = canned["id"].as_str().unwrap().to_owned();
    app.api(
        Method::PUT,
        &format!("/api/v1/canned-replies/{id}"),
        json!({"shortcut": "hi", "title": "Hello", "variants": {"en": "Hello!"}}),
    )
    .await;
    let r = app
        .http
        .delete(format!("{}/api/v1/canned-replies/{id}", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let actions = app.audit_actions().await;
    for (action, before, after) in [
        ("team.create", false, true),
        ("team.update", true, true),
        ("team.member.put", false, true),
        ("calendar.create", false, true),
        ("canned.create", false, true),
        ("canned.update", true, true),
        ("canned.delete", true, false),
    ] {
        assert!(actions.contains(&(action.to_owned(), before, after)), "{action}: {actions:?}");
    }
    let entry =
        app.store.list_audit(&switchboard_store::AuditFilter { limit: 100, ..Default::default() }).await.unwrap();
    let e = entry.items.iter().find(|e| e.action == "team.update").unwrap();
    assert_eq!(e.before.as_ref().unwrap()["description"], "Money");
    assert_eq!(e.after.as_ref().unwrap()["description"], "Invoices");
    assert!(e.actor_id.is_some());
}
