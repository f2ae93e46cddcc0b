//! The one integration-test binary. Topic modules; fixtures in `util`.

mod azurite;
mod build;
mod charts;
mod cli;
mod collect_graph;
mod eventlog;
mod excel;
mod explain;
mod export;
mod first_hour;
mod fuzz;
mod hardening;
mod house;
mod import;
mod known_subquery;
mod lake;
mod materialize;
mod nightly;
mod pack;
mod portal;
mod powerbi;
mod proven;
mod readme_examples;
mod report;
mod reports;
mod util;
