//! The append-only audit record (`auth_events`, docs/contract.md §2): who did what to which session,
//! from where and when. Never a password, token or cookie.

use std::net::IpAddr;

use uuid::Uuid;

use super::Db;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    LoginOk,
    LoginFailed,
    LoginRateLimited,
    Logout,
    Refresh,
    RefreshReuse,
    Revoke,
    Abort,
    PasswordChange,
    Disable,
    Enable,
    InviteCreated,
    InviteUsed,
    InviteRevoked,
    MfaEnrolled,
    MfaRemoved,
    MfaFailed,
    RecoveryCodeUsed,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LoginOk => "login_ok",
            Kind::LoginFailed => "login_failed",
            Kind::LoginRateLimited => "login_rate_limited",
            Kind::Logout => "logout",
            Kind::Refresh => "refresh",
            Kind::RefreshReuse => "refresh_reuse",
            Kind::Revoke => "revoke",
            Kind::Abort => "abort",
            Kind::PasswordChange => "password_change",
            Kind::Disable => "disable",
            Kind::Enable => "enable",
            Kind::InviteCreated => "invite_created",
            Kind::InviteUsed => "invite_used",
            Kind::InviteRevoked => "invite_revoked",
            Kind::MfaEnrolled => "mfa_enrolled",
            Kind::MfaRemoved => "mfa_removed",
            Kind::MfaFailed => "mfa_failed",
            Kind::RecoveryCodeUsed => "recovery_code_used",
        }
    }
}

/// One audit event. `detail` is free text for people; it must never hold a secret.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub kind: Kind,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub ip: Option<IpAddr>,
    /// The name a sign-in gave, for sign-in events: an unknown user has no `user_id`.
    pub username: Option<&'a str>,
    pub detail: Option<&'a str>,
}

impl<'a> Event<'a> {
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            user_id: None,
            session_id: None,
            ip: None,
            username: None,
            detail: None,
        }
    }

    pub fn user(mut self, id: Uuid) -> Self {
        self.user_id = Some(id);
        self
    }

    pub fn session(mut self, id: Uuid) -> Self {
        self.session_id = Some(id);
        self
    }

    pub fn ip(mut self, ip: Option<IpAddr>) -> Self {
        self.ip = ip;
        self
    }

    pub fn username(mut self, name: &'a str) -> Self {
        self.username = Some(name);
        self
    }

    pub fn detail(mut self, detail: &'a str) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// Writes `event`. The action it records has already happened, so a failure here is logged
/// and does not undo or fail it.
pub async fn record(db: &Db, event: Event<'_>) {
    let result = async {
        let client = db.conn("audit").await?;
        client
            .execute(
                "INSERT INTO auth_events (kind, user_id, session_id, ip, username, detail)
                 VALUES ($1, $2, $3, $4::text::inet, $5, $6)",
                &[
                    &event.kind.as_str(),
                    &event.user_id,
                    &event.session_id,
                    &event.ip.map(|i| i.to_string()),
                    &event.username,
                    &event.detail,
                ],
            )
            .await?;
        Ok::<_, super::StoreError>(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %crate::chain::Chain(&e), kind = event.kind.as_str(), "could not write an audit event");
    }
}
