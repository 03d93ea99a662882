//! Admin changes made over the API go into the same audit log as the admin pages' changes: who,
//! what, when, and the object before and after.

use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::auth::Caller;

/// A value as it is kept in the audit log.
pub(crate) fn json<T: Serialize>(v: &T) -> Option<Value> {
    serde_json::to_value(v).ok()
}

/// Records one change by the API's caller (a failure to record is logged, not returned: the
/// change itself already happened).
pub(crate) async fn record(
    st: &AppState,
    caller: &Caller,
    action: &str,
    target: impl Into<String>,
    before: Option<Value>,
    after: Option<Value>,
) {
    let entry = switchboard_store::NewAuditEntry {
        actor_id: Some(caller.user_id),
        action: action.into(),
        target: target.into(),
        before,
        after,
        at: chrono::Utc::now(),
    };
    crate::ui::audit(st, entry).await;
}
