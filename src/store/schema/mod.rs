//! Every lake table's Arrow schema, column-name constants and table contract.
//!
//! This is the one place where table and column names are spelled. Collectors build rows against
//! these schemas, the lake writer checks batches against them, `lake verify` checks files against
//! them, and the query layer registers them. To add a column: add a constant, add the field to the
//! table's schema, bump [`SCHEMA_VERSION`] and say in the README what readers must expect.
//!
//! Only Power BI-safe types are used (reference/storage-query.md §1.8): Utf8, Boolean, Int32,
//! Int64, Float64, Date32 and `Timestamp(Microsecond, "UTC")`. No nested, unsigned or nanosecond types.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

mod derived;
mod raw;

pub(crate) use derived::*;
pub use raw::*;

/// Version of the table contracts below; recorded in every Parquet file's key-value metadata.
pub const SCHEMA_VERSION: &str = "1";
/// Footer key for [`SCHEMA_VERSION`].
pub(crate) const META_SCHEMA_VERSION: &str = "sspr.schema_version";
/// Footer key naming the table a file belongs to.
pub(crate) const META_TABLE: &str = "sspr.table";
/// Footer key naming the source API version(s) the rows came from.
pub(crate) const META_SOURCE_API: &str = "sspr.source_api";

/// The UTC time zone string used for every instant column.
const UTC: &str = "UTC";

/// Table names.
pub(crate) mod tables {
    pub(crate) const AUDIT_EVENTS: &str = "audit_events";
    pub(crate) const REGISTRATION_DETAILS: &str = "registration_details";
    pub(crate) const USERS: &str = "users";
    pub(crate) const ROLE_ASSIGNMENTS: &str = "role_assignments";
    pub(crate) const WRITEBACK_EVENTS: &str = "writeback_events";
    pub(crate) const CREDENTIAL_PROVIDER_EVENTS: &str = "credential_provider_events";
    pub(crate) const DC_SECURITY_EVENTS: &str = "dc_security_events";
    pub(crate) const INGEST_LEDGER: &str = "ingest_ledger";
    pub(crate) const RUNS: &str = "runs";
    // Derived (gold) tables, rebuilt by `sspr build`.
    pub(crate) const RESET_ATTEMPTS: &str = "reset_attempts";
    pub(crate) const REGISTRATION_COVERAGE_DAILY: &str = "registration_coverage_daily";
    pub(crate) const WRITEBACK_OPERATIONS: &str = "writeback_operations";
    pub(crate) const ERROR_EVENTS: &str = "error_events";
}

/// Column names. Shared names (e.g. `source_file`) are defined once and used by every table.
pub(crate) mod cols {
    // audit_events
    pub(crate) const ID: &str = "id";
    pub(crate) const ACTIVITY_TIME: &str = "activity_time";
    pub(crate) const EVENT_DATE: &str = "event_date";
    pub(crate) const CATEGORY: &str = "category";
    pub(crate) const ACTIVITY: &str = "activity";
    pub(crate) const LOGGED_BY_SERVICE: &str = "logged_by_service";
    pub(crate) const OPERATION_TYPE: &str = "operation_type";
    pub(crate) const RESULT: &str = "result";
    pub(crate) const RESULT_REASON: &str = "result_reason";
    pub(crate) const RESULT_DESCRIPTION: &str = "result_description";
    pub(crate) const CORRELATION_ID: &str = "correlation_id";
    pub(crate) const ACTOR_USER_ID: &str = "actor_user_id";
    pub(crate) const ACTOR_UPN: &str = "actor_upn";
    pub(crate) const ACTOR_DISPLAY_NAME: &str = "actor_display_name";
    pub(crate) const ACTOR_IP: &str = "actor_ip";
    pub(crate) const ACTOR_APP_ID: &str = "actor_app_id";
    pub(crate) const ACTOR_APP_DISPLAY_NAME: &str = "actor_app_display_name";
    pub(crate) const ACTOR_SERVICE_PRINCIPAL_ID: &str = "actor_service_principal_id";
    pub(crate) const TARGET_USER_ID: &str = "target_user_id";
    pub(crate) const TARGET_UPN: &str = "target_upn";
    pub(crate) const TARGET_DISPLAY_NAME: &str = "target_display_name";
    pub(crate) const USER_AGENT: &str = "user_agent";
    pub(crate) const CLIENT_TYPE: &str = "client_type";
    pub(crate) const ADDITIONAL_DETAILS_JSON: &str = "additional_details_json";
    pub(crate) const TARGET_RESOURCES_JSON: &str = "target_resources_json";
    pub(crate) const INITIATED_BY_JSON: &str = "initiated_by_json";
    pub(crate) const EXTRA_JSON: &str = "extra_json";
    pub(crate) const TENANT_ID: &str = "tenant_id";
    pub(crate) const SOURCE: &str = "source";
    pub(crate) const SOURCE_FILE: &str = "source_file";
    pub(crate) const INGESTED_AT: &str = "ingested_at";

    // registration_details / users
    pub(crate) const SNAPSHOT_DATE: &str = "snapshot_date";
    pub(crate) const USER_ID: &str = "user_id";
    pub(crate) const USER_PRINCIPAL_NAME: &str = "user_principal_name";
    pub(crate) const USER_DISPLAY_NAME: &str = "user_display_name";
    pub(crate) const USER_TYPE: &str = "user_type";
    pub(crate) const IS_ADMIN: &str = "is_admin";
    pub(crate) const IS_SSPR_REGISTERED: &str = "is_sspr_registered";
    pub(crate) const IS_SSPR_ENABLED: &str = "is_sspr_enabled";
    pub(crate) const IS_SSPR_CAPABLE: &str = "is_sspr_capable";
    pub(crate) const IS_MFA_REGISTERED: &str = "is_mfa_registered";
    pub(crate) const IS_MFA_CAPABLE: &str = "is_mfa_capable";
    pub(crate) const IS_PASSWORDLESS_CAPABLE: &str = "is_passwordless_capable";
    pub(crate) const IS_SYSTEM_PREFERRED_ENABLED: &str = "is_system_preferred_enabled";
    pub(crate) const METHODS_REGISTERED: &str = "methods_registered";
    pub(crate) const SYSTEM_PREFERRED_METHODS: &str = "system_preferred_methods";
    pub(crate) const USER_PREFERRED_METHOD: &str = "user_preferred_method";
    pub(crate) const LAST_UPDATED_TIME: &str = "last_updated_time";
    pub(crate) const DISPLAY_NAME: &str = "display_name";
    pub(crate) const DEPARTMENT: &str = "department";
    pub(crate) const JOB_TITLE: &str = "job_title";
    pub(crate) const ACCOUNT_ENABLED: &str = "account_enabled";
    pub(crate) const CREATED_TIME: &str = "created_time";
    pub(crate) const ON_PREMISES_SYNC_ENABLED: &str = "on_premises_sync_enabled";

    // role_assignments
    pub(crate) const ASSIGNMENT_ID: &str = "assignment_id";
    pub(crate) const PRINCIPAL_ID: &str = "principal_id";
    pub(crate) const PRINCIPAL_TYPE: &str = "principal_type";
    pub(crate) const ROLE_DEFINITION_ID: &str = "role_definition_id";
    pub(crate) const ROLE_TEMPLATE_ID: &str = "role_template_id";
    pub(crate) const ROLE_NAME: &str = "role_name";
    pub(crate) const ROLE_IS_BUILT_IN: &str = "role_is_built_in";
    pub(crate) const DIRECTORY_SCOPE_ID: &str = "directory_scope_id";

    // Windows event-log tables
    pub(crate) const COMPUTER: &str = "computer";
    pub(crate) const CHANNEL: &str = "channel";
    pub(crate) const PROVIDER: &str = "provider";
    pub(crate) const EVENT_ID: &str = "event_id";
    pub(crate) const QUALIFIERS: &str = "qualifiers";
    pub(crate) const LEVEL: &str = "level";
    pub(crate) const TASK: &str = "task";
    pub(crate) const KEYWORDS: &str = "keywords";
    pub(crate) const TIME_CREATED: &str = "time_created";
    pub(crate) const EVENT_RECORD_ID: &str = "event_record_id";
    pub(crate) const HEADER_RECORD_ID: &str = "header_record_id";
    pub(crate) const MESSAGE: &str = "message";
    pub(crate) const EVENT_DATA_JSON: &str = "event_data_json";
    pub(crate) const TRACKING_ID: &str = "tracking_id";
    pub(crate) const HRESULT: &str = "hresult";
    pub(crate) const TARGET_ACCOUNT: &str = "target_account";
    pub(crate) const TARGET_DOMAIN: &str = "target_domain";
    pub(crate) const SUBJECT_ACCOUNT: &str = "subject_account";
    pub(crate) const SUBJECT_DOMAIN: &str = "subject_domain";
    pub(crate) const AUDIT_SUCCESS: &str = "audit_success";
    pub(crate) const CONTENT_HASH: &str = "content_hash";
    pub(crate) const SOURCE_FORMAT: &str = "source_format";

    // ingest_ledger
    pub(crate) const RUN_ID: &str = "run_id";
    pub(crate) const INGEST_DATE: &str = "ingest_date";
    pub(crate) const ITEM: &str = "item";
    pub(crate) const FORMAT: &str = "format";
    pub(crate) const WINDOW_START: &str = "window_start";
    pub(crate) const WINDOW_END: &str = "window_end";
    pub(crate) const PAGES: &str = "pages";
    pub(crate) const RECORDS: &str = "records";
    pub(crate) const ROWS_NEW: &str = "rows_new";
    pub(crate) const DUPLICATES: &str = "duplicates";
    pub(crate) const RETRIES: &str = "retries";
    pub(crate) const THROTTLED: &str = "throttled";
    pub(crate) const QUARANTINED: &str = "quarantined";
    pub(crate) const COMPLETE: &str = "complete";
    pub(crate) const ERROR: &str = "error";
    pub(crate) const STARTED_AT: &str = "started_at";

    // reset_attempts
    pub(crate) const ATTEMPT_DATE: &str = "attempt_date";
    pub(crate) const ENDED_AT: &str = "ended_at";
    pub(crate) const DURATION_SECONDS: &str = "duration_seconds";
    pub(crate) const INITIATED_BY: &str = "initiated_by";
    pub(crate) const EVENTS: &str = "events";
    pub(crate) const METHODS_STARTED: &str = "methods_started";
    pub(crate) const METHODS_COMPLETED: &str = "methods_completed";
    pub(crate) const FURTHEST_STAGE: &str = "furthest_stage";
    pub(crate) const FURTHEST_STAGE_ORDER: &str = "furthest_stage_order";
    pub(crate) const OUTCOME: &str = "outcome";
    pub(crate) const FAILURE_REASON: &str = "failure_reason";
    pub(crate) const FAILURE_CATEGORY: &str = "failure_category";
    pub(crate) const ERROR_CODE: &str = "error_code";
    pub(crate) const IP: &str = "ip";
    pub(crate) const CLIENT_KIND: &str = "client_kind";
    pub(crate) const WRITEBACK_INVOLVED: &str = "writeback_involved";
    pub(crate) const WRITEBACK_OUTCOME: &str = "writeback_outcome";
    pub(crate) const WRITEBACK_ERROR_CODE: &str = "writeback_error_code";
    pub(crate) const WRITEBACK_JOIN: &str = "writeback_join";

    // registration_coverage_daily
    pub(crate) const ROLE: &str = "role";
    pub(crate) const USERS: &str = "users";
    pub(crate) const SSPR_REGISTERED: &str = "sspr_registered";
    pub(crate) const SSPR_ENABLED: &str = "sspr_enabled";
    pub(crate) const SSPR_CAPABLE: &str = "sspr_capable";
    pub(crate) const MFA_CAPABLE: &str = "mfa_capable";
    pub(crate) const PASSWORDLESS_CAPABLE: &str = "passwordless_capable";

    // writeback_operations
    pub(crate) const OPERATION_DATE: &str = "operation_date";
    pub(crate) const OPERATION: &str = "operation";
    pub(crate) const DURATION_MS: &str = "duration_ms";
    pub(crate) const ERROR_EVENT_ID: &str = "error_event_id";

    // error_events
    pub(crate) const TIME: &str = "time";
    pub(crate) const CODE: &str = "code";
    pub(crate) const NAME: &str = "name";
    pub(crate) const MEANING: &str = "meaning";
    pub(crate) const RESOLUTION: &str = "resolution";
    pub(crate) const DETAIL: &str = "detail";
    pub(crate) const SUBJECT: &str = "subject";
    pub(crate) const FINISHED_AT: &str = "finished_at";
    pub(crate) const RUN_DATE: &str = "run_date";
    pub(crate) const NOTHING_NEW: &str = "nothing_new";
    pub(crate) const SOURCES: &str = "sources";
    pub(crate) const SOURCES_FAILED: &str = "sources_failed";
    pub(crate) const FILES_IMPORTED: &str = "files_imported";
    pub(crate) const BUILD_PARTITIONS: &str = "build_partitions";
    pub(crate) const OUTPUTS: &str = "outputs";
    pub(crate) const ERRORS: &str = "errors";
    pub(crate) const EXPORT_ID: &str = "export_id";
    pub(crate) const DELIVERED: &str = "delivered";
    pub(crate) const CONFIG_DIGEST: &str = "config_digest";
    pub(crate) const VERSION: &str = "version";
}

/// Rows per data page unless a table says otherwise (parquet-mr's and parquet-rs' default).
pub(crate) const PAGE_ROWS: usize = 20_000;

/// How a table is laid out and merged in the lake.
#[derive(Debug)]
pub struct TableDef {
    /// Table name, also its folder under the lake root.
    pub name: &'static str,
    /// The DATE column the table is Hive-partitioned on (also kept inside every file).
    pub partition_col: &'static str,
    /// Rows are sorted by these columns inside each file (time first, except where a table says
    /// why not); `lake verify` checks the order.
    pub sort_cols: &'static [&'static str],
    /// The natural key rows are de-duplicated on when a partition is merged.
    pub key_cols: &'static [&'static str],
    /// The key names one row in the whole table, not only in its partition: the key holds no
    /// column the partition follows from (an audit event's `id`, while two exports may give it
    /// two times on two days). A new row whose key is stored, or seen earlier in the run, under
    /// another partition is a duplicate ([`crate::store::ids`]).
    pub key_across_partitions: bool,
    /// Source API recorded in the footer.
    pub source_api: &'static str,
    /// Columns whose values are (nearly) all distinct: written PLAIN, without the dictionary the
    /// writer would hash every value into and then abandon at its 1 MiB limit.
    pub plain_cols: &'static [&'static str],
    /// Most rows in one data page: the grain at which the page index lets a reader skip rows of
    /// a sorted column. Smaller pages skip more precisely and cost a header and statistics each.
    pub page_rows: usize,
    schema: fn() -> Schema,
}

impl TableDef {
    /// The table's full Arrow schema (the partition column included), built once.
    pub fn schema(&self) -> SchemaRef {
        static CACHE: OnceLock<Vec<(&'static str, SchemaRef)>> = OnceLock::new();
        let cache = CACHE.get_or_init(|| all_tables().map(|t| (t.name, Arc::new((t.schema)()))).collect());
        cache
            .iter()
            .find(|(n, _)| *n == self.name)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| Arc::new((self.schema)()))
    }

    /// The schema without the partition column: what a Hive-partitioned reader declares for files.
    pub(crate) fn file_schema_without_partition(&self) -> SchemaRef {
        let s = self.schema();
        let fields: Vec<_> = s.fields().iter().filter(|f| f.name() != self.partition_col).cloned().collect();
        Arc::new(Schema::new(fields))
    }
}

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
}
fn s(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}
fn s_req(name: &str) -> Field {
    Field::new(name, DataType::Utf8, false)
}
fn b(name: &str) -> Field {
    Field::new(name, DataType::Boolean, true)
}
fn i32f(name: &str) -> Field {
    Field::new(name, DataType::Int32, true)
}
fn i64f(name: &str) -> Field {
    Field::new(name, DataType::Int64, true)
}
fn t(name: &str) -> Field {
    Field::new(name, ts(), true)
}
fn t_req(name: &str) -> Field {
    Field::new(name, ts(), false)
}
fn d_req(name: &str) -> Field {
    Field::new(name, DataType::Date32, false)
}
fn f64f(name: &str) -> Field {
    Field::new(name, DataType::Float64, true)
}

/// Every raw table of the lake, in a stable order.
pub(crate) static RAW_TABLES: [&TableDef; 9] = [
    &AUDIT_EVENTS,
    &REGISTRATION_DETAILS,
    &USERS,
    &ROLE_ASSIGNMENTS,
    &WRITEBACK_EVENTS,
    &CREDENTIAL_PROVIDER_EVENTS,
    &DC_SECURITY_EVENTS,
    &INGEST_LEDGER,
    &RUNS,
];

/// The derived (gold) tables `sspr build` writes, in build order.
pub(crate) static DERIVED_TABLES: [&TableDef; 4] =
    [&RESET_ATTEMPTS, &REGISTRATION_COVERAGE_DAILY, &WRITEBACK_OPERATIONS, &ERROR_EVENTS];

/// Every table of the lake: raw, then derived.
pub fn all_tables() -> impl Iterator<Item = &'static TableDef> {
    RAW_TABLES.iter().chain(DERIVED_TABLES.iter()).copied()
}

/// Whether a data type belongs to the Power BI-safe profile.
pub(crate) fn is_power_bi_safe(dt: &DataType) -> bool {
    match dt {
        DataType::Boolean
        | DataType::Int32
        | DataType::Int64
        | DataType::Float64
        | DataType::Utf8
        | DataType::Date32 => true,
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) => tz.as_ref() == UTC,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_power_bi_safe_snake_case_and_keeps_its_partition_column() {
        for t in all_tables() {
            let schema = t.schema();
            assert!(schema.field_with_name(t.partition_col).is_ok(), "{}", t.name);
            for f in schema.fields() {
                assert!(is_power_bi_safe(f.data_type()), "{}.{}", t.name, f.name());
                assert!(
                    f.name().chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{}.{}",
                    t.name,
                    f.name()
                );
            }
            for k in t.key_cols.iter().chain(t.sort_cols) {
                assert!(schema.field_with_name(k).is_ok(), "{}.{k}", t.name);
            }
        }
    }
}
