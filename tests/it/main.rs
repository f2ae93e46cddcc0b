//! The one integration-test binary. Topic modules; fixtures in `util`.

mod cli;
mod import;
mod lake;
mod reports;
mod util;
