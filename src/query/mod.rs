//! The query layer: the one `SessionContext` builder and the saved-query registry.

pub mod build;
pub mod completeness;
pub mod context;
pub mod known_subquery;
pub mod materialize;
pub mod percentile;
pub mod proven;
pub mod saved;
pub mod string_in;
