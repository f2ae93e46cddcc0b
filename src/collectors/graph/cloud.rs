//! National clouds: token authority, Graph root and `.default` scope (reference/entra-audit.md §4),
//! plus which APIs each cloud offers, so the collector can say clearly when one is missing.

use serde::{Deserialize, Serialize};

/// A Microsoft cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Cloud {
    /// Global (also GCC moderate).
    #[default]
    Global,
    /// US Government L4 (GCC High).
    UsGov,
    /// US Government L5 (DoD).
    UsGovDod,
    /// China, operated by 21Vianet.
    China,
}

/// A Graph API the collector calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GraphApi {
    DirectoryAudits,
    UserRegistrationDetails,
    Users,
    RoleAssignments,
}

impl Cloud {
    /// Token authority (`{authority}/{tenant}/oauth2/v2.0/token`).
    fn authority(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGov | Cloud::UsGovDod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// Graph root (without the version segment).
    fn graph_root(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::UsGovDod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The client-credentials scope (the Graph root + `/.default`).
    fn scope(self) -> String {
        format!("{}/.default", self.graph_root())
    }

    /// Whether the cloud offers an API (the stored Graph docs list `directoryAudits` v1.0 as not
    /// available in China; re-check when Microsoft's page changes).
    pub(crate) fn supports(self, api: GraphApi) -> bool {
        !(self == Cloud::China && api == GraphApi::DirectoryAudits)
    }
}

/// Where requests go: a cloud's endpoints, or overrides (tests, proxies, private links).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub cloud: Cloud,
    pub authority: String,
    pub graph_root: String,
    pub scope: String,
}

impl Endpoints {
    pub(crate) fn new(cloud: Cloud, authority_override: Option<&str>, graph_override: Option<&str>) -> Self {
        let trim = |s: &str| s.trim_end_matches('/').to_string();
        Self {
            cloud,
            authority: authority_override.map(trim).unwrap_or_else(|| cloud.authority().into()),
            graph_root: graph_override.map(trim).unwrap_or_else(|| cloud.graph_root().into()),
            // The scope names the cloud's Graph resource even when requests go through a proxy.
            scope: cloud.scope(),
        }
    }

    /// `{authority}/{tenant}/oauth2/v2.0/token`
    pub(crate) fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.authority)
    }

    /// `{graph_root}/{version}/{path}`
    pub(crate) fn graph_url(&self, version: &str, path: &str) -> String {
        format!("{}/{version}/{}", self.graph_root, path.trim_start_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cloud_builds_its_own_urls() {
        let cases = [
            (
                Cloud::Global,
                "https://login.microsoftonline.com/t/oauth2/v2.0/token",
                "https://graph.microsoft.com/v1.0/users",
                "https://graph.microsoft.com/.default",
            ),
            (
                Cloud::UsGov,
                "https://login.microsoftonline.us/t/oauth2/v2.0/token",
                "https://graph.microsoft.us/v1.0/users",
                "https://graph.microsoft.us/.default",
            ),
            (
                Cloud::UsGovDod,
                "https://login.microsoftonline.us/t/oauth2/v2.0/token",
                "https://dod-graph.microsoft.us/v1.0/users",
                "https://dod-graph.microsoft.us/.default",
            ),
            (
                Cloud::China,
                "https://login.chinacloudapi.cn/t/oauth2/v2.0/token",
                "https://microsoftgraph.chinacloudapi.cn/v1.0/users",
                "https://microsoftgraph.chinacloudapi.cn/.default",
            ),
        ];
        for (cloud, token, users, scope) in cases {
            let e = Endpoints::new(cloud, None, None);
            assert_eq!(e.token_url("t"), token);
            assert_eq!(e.graph_url("v1.0", "/users"), users);
            assert_eq!(e.scope, scope);
        }
        assert!(!Cloud::China.supports(GraphApi::DirectoryAudits));
        assert!(Cloud::China.supports(GraphApi::UserRegistrationDetails));
        let proxied = Endpoints::new(Cloud::UsGov, Some("http://127.0.0.1:9/"), Some("http://127.0.0.1:9/"));
        assert_eq!(proxied.token_url("t"), "http://127.0.0.1:9/t/oauth2/v2.0/token");
        assert_eq!(proxied.scope, "https://graph.microsoft.us/.default");
    }
}
