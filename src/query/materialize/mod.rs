//! `sspr.materialize_ctes`: common table expressions computed once per query and read by every
//! reference, instead of once per reference.
//!
//! DataFusion inlines a CTE wherever the query names it, so a CTE joined with itself scans its
//! tables twice. `bulk_admin_resets` picks a few dozen admin resets out of millions of audit
//! events and joins them with themselves: two full scans for a few dozen rows. DuckDB and
//! PostgreSQL compute a CTE referenced twice once; portable SQL cannot ask for it (Spark has no
//! `AS MATERIALIZED`), so a saved query names the CTEs in its settings line:
//! `-- settings: sspr.materialize_ctes=a` (several names separated by spaces). A program with its
//! own session (the tests) can `SET sspr.materialize_ctes = 'a'`.
//!
//! Upstream: apache/datafusion#8777 ("Do not recompute CTEs") and #17737 (a `MATERIALIZED`
//! option), both open for DataFusion 55. Off with the other extensions (`[query] extensions`).
//!
//! How (`logical.rs`, then `exec.rs`):
//! - [`MaterializeCtes`] (analyzer rule) puts each reference of a named CTE under a
//!   [`MaterializedCte`] node carrying an id shared by all references with the same body. The node
//!   keeps filters and column pruning from above out of the body, so every copy stays the same.
//! - [`SsprQueryPlanner`] plans the node as a [`MaterializedCteExec`]. On its own it computes its
//!   input to the end and then streams it, so the plan is correct without the next step.
//! - [`ShareMaterializedCtes`] (the last physical rule) gives all references with one id the same
//!   computation: the first runs the body (all partitions at once, in memory counted against the
//!   session's pool), the others read its result. A CTE left with one reference loses the node.
//!
//! Only for small results: the whole result is held in memory until the query ends, and the
//! reading side cannot start before it is complete. A CTE with a selective filter (a few rows of a
//! large table) is the case it is for.
mod exec;
mod logical;

use datafusion::common::config::{ConfigExtension, ConfigOptions};
use datafusion::common::extensions_options;

pub(crate) use exec::{ShareMaterializedCtes, SsprQueryPlanner};
pub(crate) use logical::{MaterializeCtes, MaterializedCte};

extensions_options! {
    /// sspr's own session options, set like DataFusion's: `-- settings: sspr.<option>=<value>`
    /// in a saved query, `SET sspr.<option> = '<value>'` in a session that allows statements.
    pub(crate) struct SsprOptions {
        /// Names of CTEs (separated by spaces) computed once per query and read by every
        /// reference. Only for CTEs with small results: see `src/query/materialize/`.
        pub materialize_ctes: String, default = String::new()
    }
}

impl ConfigExtension for SsprOptions {
    const PREFIX: &'static str = "sspr";
}

/// The CTE names `sspr.materialize_ctes` lists in `options`.
fn named_ctes(options: &ConfigOptions) -> Vec<String> {
    let names = options.extensions.get::<SsprOptions>().map(|o| o.materialize_ctes.as_str());
    names.unwrap_or("").split_whitespace().map(str::to_string).collect()
}
