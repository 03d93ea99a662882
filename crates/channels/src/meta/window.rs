//! The customer-service window. WhatsApp: free-form replies only within 24 hours of the
//! customer's last message; outside it only an approved template (error 131047 otherwise).
//! Messenger and Instagram DMs: standard messaging within 24 hours; with the HUMAN_AGENT tag (an
//! app permission, enabled per channel) a person may answer up to 7 days later. Public Instagram
//! comment replies have no window.

use chrono::{DateTime, Duration, Utc};
use switchboard_domain::{ChannelKind, Visibility};

use super::MetaConfig;
use crate::{ChannelSettings, WindowState};

/// The standard window.
pub const STANDARD: Duration = Duration::hours(24);
/// The HUMAN_AGENT tag's window.
pub const HUMAN_AGENT: Duration = Duration::days(7);

/// How a Messenger/Instagram DM may go out now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmPolicy {
    /// `messaging_type: RESPONSE`.
    Response,
    /// `messaging_type: MESSAGE_TAG`, `tag: HUMAN_AGENT`.
    HumanAgent,
    /// Not allowed.
    Closed,
}

/// The DM policy at `now`.
pub fn dm_policy(cfg: &MetaConfig, last_inbound_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DmPolicy {
    match last_inbound_at {
        Some(t) if now - t < STANDARD => DmPolicy::Response,
        Some(t) if cfg.human_agent_tag && now - t < HUMAN_AGENT => DmPolicy::HumanAgent,
        _ => DmPolicy::Closed,
    }
}

pub(crate) fn state(
    ch: &ChannelSettings,
    visibility: Visibility,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> WindowState {
    let cfg = MetaConfig::from_settings(ch).unwrap_or_default();
    let closes_at = last.map(|t| t + STANDARD);
    let mut st = WindowState {
        applies: true,
        open: false,
        last_customer_message_at: last,
        closes_at,
        human_agent_until: None,
        allowed: vec![],
        reason: None,
        reason_zh: None,
    };
    match ch.kind {
        ChannelKind::Whatsapp => {
            st.open = closes_at.is_some_and(|c| now < c);
            st.allowed = if st.open { vec!["text", "media", "template"] } else { vec!["template"] };
            if !st.open {
                st.reason_zh = Some(match last {
                    Some(_) => "距客户最后一条 WhatsApp 消息已超过 24 小时，只能发送已批准的消息模板（其他消息会被 WhatsApp 以错误 131047 拒绝）".into(),
                    None => "客户尚未在 WhatsApp 上发来消息，只能发送已批准的消息模板".into(),
                });
                st.reason = Some(match last {
                    Some(_) => "more than 24 hours have passed since the customer's last WhatsApp message; only an approved template can be sent (WhatsApp would refuse anything else with error 131047)".into(),
                    None => "the customer has not written on WhatsApp yet; only an approved template can be sent".into(),
                });
            }
        }
        ChannelKind::Instagram if visibility == Visibility::Public => {
            st.applies = false;
            st.open = true;
            st.closes_at = None;
            st.allowed = vec!["text"];
        }
        _ => {
            if cfg.human_agent_tag {
                st.human_agent_until = last.map(|t| t + HUMAN_AGENT);
            }
            match dm_policy(&cfg, last, now) {
                DmPolicy::Response | DmPolicy::HumanAgent => {
                    st.open = true;
                    st.allowed = vec!["text", "media"];
                }
                DmPolicy::Closed => {
                    st.reason_zh = Some(if cfg.human_agent_tag {
                        "距客户最后一条消息已超过 7 天，Meta 不允许再回复（HUMAN_AGENT 标签也不行）".into()
                    } else {
                        "距客户最后一条消息已超过 24 小时，Meta 不允许在标准消息窗口之外回复（在渠道上启用 human_agent_tag 可在 7 天内以 HUMAN_AGENT 标签回复）".into()
                    });
                    st.reason = Some(if cfg.human_agent_tag {
                        "more than 7 days have passed since the customer's last message; Meta allows no reply (not even with the HUMAN_AGENT tag)".into()
                    } else {
                        "more than 24 hours have passed since the customer's last message; Meta allows no reply outside the standard messaging window (enable human_agent_tag on the channel to answer up to 7 days with the HUMAN_AGENT tag)".into()
                    });
                }
            }
        }
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_domain::ChannelSlug;

    fn ch(kind: ChannelKind, human_agent: bool) -> ChannelSettings {
        ChannelSettings {
            slug: ChannelSlug::parse("x").unwrap_or_else(|_| unreachable!()),
            kind,
            secret: None,
            config: serde_json::json!({"human_agent_tag": human_agent}),
        }
    }

    #[test]
    fn whatsapp_allows_only_templates_after_24_hours() {
        let now = Utc::now();
        let wa = ch(ChannelKind::Whatsapp, false);
        assert!(state(&wa, Visibility::Private, Some(now - Duration::hours(23)), now).open);
        let closed = state(&wa, Visibility::Private, Some(now - Duration::hours(25)), now);
        assert!(!closed.open);
        assert_eq!(closed.allowed, vec!["template"]);
        assert!(closed.reason.unwrap_or_default().contains("131047"));
        assert!(closed.reason_zh.unwrap_or_default().contains("24 小时"));
        assert!(!state(&wa, Visibility::Private, None, now).open);
    }

    #[test]
    fn messenger_human_agent_extends_to_7_days_only_when_enabled() {
        let now = Utc::now();
        let three_days = Some(now - Duration::days(3));
        assert!(!state(&ch(ChannelKind::Messenger, false), Visibility::Private, three_days, now).open);
        assert!(state(&ch(ChannelKind::Messenger, true), Visibility::Private, three_days, now).open);
        assert!(
            !state(&ch(ChannelKind::Messenger, true), Visibility::Private, Some(now - Duration::days(8)), now).open
        );
        assert_eq!(
            dm_policy(&MetaConfig { human_agent_tag: true, ..Default::default() }, three_days, now),
            DmPolicy::HumanAgent
        );
        // Public comment replies have no window.
        assert!(state(&ch(ChannelKind::Instagram, false), Visibility::Public, None, now).open);
    }
}
