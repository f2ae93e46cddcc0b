//! The synthetic tenant's users and their registration state; the sessions they run are in
//! [`super::sessions`]. Everything is drawn from one seeded [`Rng`], so the same parameters always
//! give the same tenant.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::rng::Rng;

const DEPARTMENTS: &[&str] =
    &["Finance", "Sales", "Engineering", "HR", "Operations", "Legal", "Support", "Marketing"];
const FIRST: &[&str] = &[
    "Alex", "Sam", "Robin", "Kim", "Noor", "Jan", "Lea", "Omar", "Mia", "Yuki", "Ana", "Tom", "Eva", "Ravi",
    "Ines", "Luca",
];
const LAST: &[&str] = &[
    "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters", "De Smet",
    "Dubois", "Lambert",
];

/// Generator parameters.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantParams {
    pub users: usize,
    pub days: u32,
    pub seed: u64,
    pub end_date: NaiveDate,
    /// Sessions per 1,000 users per day.
    pub session_rate: f64,
}

impl Default for TenantParams {
    /// The bundled sample (`sample-data/`): what `sspr sample generate` writes with no options and
    /// what `sspr demo` imports.
    fn default() -> Self {
        Self {
            users: 2000,
            days: 14,
            seed: 7,
            end_date: NaiveDate::from_ymd_opt(2026, 11, 14).expect("a valid date"),
            session_rate: 20.0,
        }
    }
}

/// One directory user with registration state.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub id: String,
    pub upn: String,
    pub display_name: String,
    pub user_type: &'static str,
    pub is_admin: bool,
    pub department: &'static str,
    pub account_enabled: bool,
    pub created: DateTime<Utc>,
    pub synced: bool,
    pub sspr_enabled: bool,
    /// Registered (enough methods for SSPR) at the latest snapshot.
    pub registered: bool,
    /// Registered before the generated window (false: registered during it, or never).
    pub registered_before_window: bool,
    pub methods: Vec<&'static str>,
    pub home_ip: String,
}

impl User {
    pub(crate) fn capable(&self) -> bool {
        self.registered && self.sspr_enabled
    }

    /// MFA capable at the latest snapshot: registered with a method that is not email or
    /// security questions (those serve SSPR only). No generated method is passwordless.
    pub(crate) fn mfa_capable(&self) -> bool {
        mfa_capable(self.registered, &self.methods)
    }
}

/// A registered user with a method other than email and security questions can do MFA.
pub(crate) fn mfa_capable(registered: bool, methods: &[&str]) -> bool {
    registered && methods.iter().any(|m| *m != "email" && *m != "securityQuestion")
}

/// Builds the users.
pub(crate) fn users(p: &TenantParams, rng: &mut Rng) -> Vec<User> {
    let end = p.end_date.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    (0..p.users)
        .map(|i| {
            let guest = rng.chance(0.08);
            let first = *rng.pick(FIRST);
            let last = *rng.pick(LAST);
            let user_type = if guest { "guest" } else { "member" };
            let upn = if guest {
                format!(
                    "{}.{}{i}_partner.example#EXT#@contoso.example",
                    first.to_lowercase(),
                    last.to_lowercase().replace(' ', "")
                )
            } else {
                format!(
                    "{}.{}{i}@contoso.example",
                    first.to_lowercase(),
                    last.to_lowercase().replace(' ', "")
                )
            };
            let is_admin = !guest && rng.chance(0.04);
            let sspr_enabled = if guest { rng.chance(0.05) } else { rng.chance(0.88) };
            let registered = if guest {
                rng.chance(0.15)
            } else if is_admin {
                rng.chance(0.95)
            } else {
                rng.chance(0.74)
            };
            let registered_before_window = registered && rng.chance(0.93);
            let pool: &[&'static str] = &[
                "mobilePhone",
                "email",
                "microsoftAuthenticatorPush",
                "softwareOneTimePasscode",
                "securityQuestion",
                "officePhone",
            ];
            let mut methods: Vec<&'static str> = Vec::new();
            let n = if registered {
                1 + rng.below(3) as usize + usize::from(is_admin)
            } else {
                rng.below(2) as usize
            };
            while methods.len() < n.min(pool.len()) {
                let m = *rng.pick(pool);
                if !methods.contains(&m) {
                    methods.push(m);
                }
            }
            if registered
                && !methods.iter().any(|m| {
                    matches!(
                        *m,
                        "mobilePhone"
                            | "email"
                            | "securityQuestion"
                            | "officePhone"
                            | "microsoftAuthenticatorPush"
                    )
                })
            {
                methods.push("mobilePhone");
            }
            methods.sort();
            User {
                id: rng.guid(),
                upn,
                display_name: format!("{first} {last}"),
                user_type,
                is_admin,
                department: DEPARTMENTS[rng.below(DEPARTMENTS.len() as u64) as usize],
                account_enabled: rng.chance(0.97),
                created: end
                    - Duration::days(1 + rng.below(900) as i64)
                    - Duration::seconds(rng.below(86_400) as i64),
                synced: !guest && rng.chance(0.7),
                sspr_enabled,
                registered,
                registered_before_window,
                methods,
                home_ip: format!(
                    "{}.{}",
                    rng.pick(&["203.0.113", "198.51.100", "192.0.2"]),
                    1 + rng.below(254)
                ),
            }
        })
        .collect()
}
