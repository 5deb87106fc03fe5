//! [`Account`]: the Cloudflare account, its API token and Zero Trust team.

use lab_core::{Handle, Output, ResourceSpec, Secret};

use super::cf_spec;
use crate::kinds::cloudflare::ACCOUNT;
use crate::model::net_resource;

/// A Cloudflare account lab-net manages the edge in.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::cloudflare::Account;
/// let mut lab = Lab::new("home");
/// let cf = lab.add(Account::new("cf", "0123456789abcdef0123456789abcdef",
///                               Secret::new("token"), "myteam"));
/// assert_eq!(cf.address().to_string(), "cloudflare.account.cf");
/// ```
pub struct Account {
    spec: ResourceSpec,
}

net_resource!(Account);

impl Account {
    /// Account `account_id` (32 hex digits), reached with `api_token`
    /// (Tunnel Edit, Access Apps and Policies Write, DNS Edit, Zone Read),
    /// whose Zero Trust team is `team_name` (`<team>.cloudflareaccess.com`).
    #[track_caller]
    pub fn new(name: &str, account_id: &str, api_token: Secret, team_name: &str) -> Self {
        let mut spec = cf_spec(ACCOUNT, name);
        if account_id.len() != 32 || !account_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            spec.invalid(
                "account_id",
                format!("`{account_id}` is not an account id (32 hex digits)"),
                "copy it from the dashboard's URL (dash.cloudflare.com/<account id>)",
            );
        }
        spec.set("account_id", account_id);
        if api_token.expose().is_empty() {
            spec.invalid(
                "api_token",
                "the API token is empty",
                "create one under My Profile > API Tokens and pass it as a Secret (Secret::from_env)",
            );
        }
        spec.set("api_token", api_token);
        let label_ok = !team_name.is_empty()
            && team_name.len() <= 63
            && team_name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !label_ok {
            spec.invalid(
                "team_name",
                format!("`{team_name}` is not a team name (lower-case letters, digits, `-`)"),
                "write the part before .cloudflareaccess.com (Zero Trust > Settings > Custom Pages)",
            );
        }
        spec.set("team_name", team_name);
        Account { spec }
    }
}

/// Outputs of an [`Account`].
pub trait AccountOutput {
    /// The Zero Trust team name (what tunnel rules' `access.teamName` is).
    #[track_caller]
    fn team_name(&self) -> Output<String>;
}

impl AccountOutput for Handle<Account> {
    #[track_caller]
    fn team_name(&self) -> Output<String> {
        self.output("team_name")
    }
}
