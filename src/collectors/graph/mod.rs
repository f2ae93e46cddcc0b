//! Microsoft Graph: the live collector (`sspr collect graph`) and its parts.
//!
//! - `cloud`: national clouds and endpoint overrides;
//! - `secret`, `auth`: credentials and tokens (secret, certificate, managed identity, federation);
//! - `limiter`, `retry`, `client`: the shared paging driver (budget, backoff, 401 refresh);
//! - `collect`: slices, spool, checkpoint, import, ledger;
//! - `mock`: a loopback Graph for tests and benches.

pub mod auth;
mod client;
pub(crate) mod cloud;
pub mod collect;
mod limiter;
#[cfg(feature = "testkit")]
pub mod mock;
pub mod plan;
mod retry;
pub mod secret;
pub mod settings;
