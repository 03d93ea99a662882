//! The user's own settings: language, time zone, availability, signing out everywhere.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_domain::routing::Availability;
use switchboard_store::UserPrefs;

use super::form::{CheckedForm, has_csrf};
use super::i18n::Locale;
use super::inbox::Choice;
use super::session::UiUser;
use super::{Chrome, page_error, render, store_error};
use crate::AppState;

/// Zones offered in the picker; any IANA name can be typed.
const COMMON_ZONES: &[&str] = &[
    "UTC",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Australia/Sydney",
];

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    c: Chrome,
    languages: Vec<Choice>,
    time_zone: String,
    zones: &'static [&'static str],
    availability: Vec<Choice>,
    email: String,
}

/// `GET /settings`.
pub(crate) async fn page(State(st): State<AppState>, me: UiUser) -> Response {
    let current_availability = match st.engine.store().get_availability(me.user.id).await {
        Ok(a) => a,
        Err(e) => return store_error(&me.tr, e),
    };
    let availability = Availability::ALL
        .iter()
        .map(|a| Choice {
            value: a.as_str().to_owned(),
            label: me.tr.t(&format!("availability-{}", a.as_str())),
            selected: *a == current_availability,
        })
        .collect();
    let current = me.prefs.locale.clone().unwrap_or_default();
    let mut languages =
        vec![Choice { value: String::new(), label: me.tr.t("settings-language-auto"), selected: current.is_empty() }];
    languages.extend(Locale::ALL.iter().map(|l| Choice {
        value: l.tag().to_owned(),
        label: l.native_name().to_owned(),
        selected: l.tag() == current,
    }));
    render(&SettingsPage {
        c: me.chrome("settings"),
        languages,
        time_zone: me.prefs.time_zone.clone().unwrap_or_default(),
        zones: COMMON_ZONES,
        availability,
        email: me.user.email.clone(),
    })
}

#[derive(Deserialize)]
pub(crate) struct SettingsForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    locale: String,
    #[serde(default)]
    time_zone: String,
}

has_csrf!(SettingsForm);

/// `POST /settings`.
pub(crate) async fn save(
    State(st): State<AppState>,
    me: UiUser,
    CheckedForm(f): CheckedForm<SettingsForm>,
) -> Response {
    let locale = match f.locale.trim() {
        "" => None,
        tag => match Locale::from_tag(tag) {
            Some(l) => Some(l.tag().to_owned()),
            None => return page_error(&me.tr, StatusCode::UNPROCESSABLE_ENTITY, "error-bad-language"),
        },
    };
    let time_zone = match f.time_zone.trim() {
        "" => None,
        tz => match tz.parse::<chrono_tz::Tz>() {
            Ok(z) => Some(z.name().to_owned()),
            Err(_) => return page_error(&me.tr, StatusCode::UNPROCESSABLE_ENTITY, "error-bad-time-zone"),
        },
    };
    match st.engine.store().set_prefs(me.user.id, &UserPrefs { locale, time_zone }).await {
        Ok(()) => Redirect::to("/settings").into_response(),
        Err(e) => store_error(&me.tr, e),
    }
}

#[derive(Deserialize)]
pub(crate) struct AvailabilityForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    availability: String,
}

has_csrf!(AvailabilityForm);

/// `POST /settings/availability`: online, away or offline. Going offline hands the agent's open
/// conversations back to routing.
pub(crate) async fn save_availability(
    State(st): State<AppState>,
    me: UiUser,
    CheckedForm(f): CheckedForm<AvailabilityForm>,
) -> Response {
    let Ok(a) = f.availability.parse::<Availability>() else {
        return page_error(&me.tr, StatusCode::UNPROCESSABLE_ENTITY, "error-bad-form");
    };
    match crate::api::routing::teams::apply(&st, me.user.id, a).await {
        Ok(()) => Redirect::to("/settings").into_response(),
        Err(e) => e.into_response(),
    }
}
