//! The Parquet lake: table schemas, layout, the Power BI-safe writer, merge and verification.

mod ids;
pub mod lake;
pub mod layout;
pub mod quarantine;
pub mod schema;
pub(crate) mod table_writer;
pub mod verify;
pub mod writer;

pub use lake::Lake;
pub use table_writer::TableWriter;
