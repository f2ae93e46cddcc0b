//! The events a user or an administrator makes outside a reset session: admin resets, password
//! changes and unlocks, security-info registration and changes, and other directory audits.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::{AUTH_METHODS, Actor, ClientKind, Event, SessionBuilder};
use crate::sample::tenant::User;

impl SessionBuilder<'_> {
    /// An administrator resets a user's password (`Reset password (by admin)`).
    pub(crate) fn admin_reset(&mut self, admin: &User, target: &User, at: DateTime<Utc>) -> Event {
        let corr = self.rng.guid();
        let client = ClientKind::WebPortal.details(self.rng);
        let actor = Actor { user: admin, ip: &admin.home_ip, client, corr: &corr };
        let mut e = self.event(&actor, at, "Reset password (by admin)", "success", "");
        e.json["targetResources"][0]["id"] = json!(target.id);
        e.json["targetResources"][0]["userPrincipalName"] = json!(target.upn);
        e.json["additionalDetails"] = json!([{"key": "OnPremisesAgent", "value": if target.synced { "Microsoft Entra Connect" } else { "None" }}]);
        e
    }

    /// A self-service event of its own, outside a reset session (a password change, an account
    /// unlock), from the user's usual address.
    pub(crate) fn account_event(
        &mut self,
        user: &User,
        at: DateTime<Utc>,
        activity: &str,
        result: &str,
        reason: &str,
    ) -> Event {
        let corr = self.rng.guid();
        let client = ClientKind::WebPortal.details(self.rng);
        let actor = Actor { user, ip: &user.home_ip, client, corr: &corr };
        self.event(&actor, at, activity, result, reason)
    }

    /// Combined-registration events of a user who registered during the window.
    pub(crate) fn registration(&mut self, user: &User, at: DateTime<Utc>) -> Vec<Event> {
        let corr = self.rng.guid();
        let client = ClientKind::WebPortal.details(self.rng);
        let mut out = Vec::new();
        let mut t = at;
        for m in &user.methods {
            let label = security_info_label(m);
            let actor = Actor { user, ip: &user.home_ip, client, corr: &corr };
            let mut e = self.event(
                &actor,
                t,
                "User registered security info",
                "success",
                &format!("User registered {label}."),
            );
            e.json["loggedByService"] = json!(AUTH_METHODS);
            e.method = Some(m);
            out.push(e);
            t += Duration::seconds(20 + self.rng.below(60) as i64);
        }
        let actor = Actor { user, ip: &user.home_ip, client, corr: &corr };
        let mut e = self.event(
            &actor,
            t,
            "User registered all required security info",
            "success",
            "User registered all required security info.",
        );
        e.json["loggedByService"] = json!(AUTH_METHODS);
        out.push(e);
        out
    }
}

impl SessionBuilder<'_> {
    /// A change of one method's security info outside registration (`User changed default
    /// security info`, `User deleted security info`), as the user, from their usual address.
    pub(crate) fn security_info_change(
        &mut self,
        user: &User,
        at: DateTime<Utc>,
        activity: &str,
        result: &str,
        reason: &str,
        method: &'static str,
    ) -> Event {
        let mut e = self.account_event(user, at, activity, result, reason);
        e.json["loggedByService"] = json!(AUTH_METHODS);
        e.method = Some(method);
        e
    }
}

impl SessionBuilder<'_> {
    /// A directory audit that is not about passwords (`Add member to role`, `Consent to
    /// application`, …) by `actor`, from their usual address, on `target` when there is one.
    pub(crate) fn directory_event(
        &mut self,
        actor: &User,
        at: DateTime<Utc>,
        (service, category, activity): (&str, &str, &str),
        target: Option<&User>,
    ) -> Event {
        let mut e = self.account_event(actor, at, activity, "success", "");
        e.json["loggedByService"] = json!(service);
        e.json["category"] = json!(category);
        e.json["operationType"] = json!("Assign");
        e.json["additionalDetails"] = json!([]);
        e.json["targetResources"] = match target {
            Some(t) => {
                json!([{"id": t.id, "displayName": null, "type": "User", "userPrincipalName": t.upn, "groupType": null,
                "modifiedProperties": [{"displayName": "Role.DisplayName", "oldValue": null, "newValue": "\"Global Administrator\""}]}])
            }
            None => {
                json!([{"id": self.rng.guid(), "displayName": "Contoso Sync Helper", "type": "ServicePrincipal", "userPrincipalName": null, "groupType": null, "modifiedProperties": []}])
            }
        };
        e
    }
}

/// How the audit log names a method in a security-info event's resultReason ("User registered
/// Mobile Phone SMS."), for the methods the generator registers.
pub(crate) fn security_info_label(method: &str) -> &'static str {
    match method {
        "mobilePhone" => "Mobile Phone SMS",
        "email" => "Email",
        "microsoftAuthenticatorPush" => "Authenticator app",
        "softwareOneTimePasscode" => "Authenticator app code",
        "securityQuestion" => "Security questions",
        _ => "Office Phone",
    }
}
