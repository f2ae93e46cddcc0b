//! The derived (gold) tables `sspr build` writes from the raw and reference tables.

pub(crate) use datafusion::arrow::datatypes::Schema;

use super::{PAGE_ROWS, TableDef, b, cols, d_req, f64f, i32f, i64f, s, s_req, t, t_req, tables};

fn reset_attempts_schema() -> Schema {
    use cols::*;
    Schema::new(vec![
        s_req(CORRELATION_ID),
        d_req(ATTEMPT_DATE),
        t_req(STARTED_AT),
        t(ENDED_AT),
        f64f(DURATION_SECONDS),
        s(USER_ID),
        s(USER_PRINCIPAL_NAME),
        s_req(INITIATED_BY),
        i64f(EVENTS),
        s(METHODS_STARTED),
        s(METHODS_COMPLETED),
        s(FURTHEST_STAGE),
        i32f(FURTHEST_STAGE_ORDER),
        s_req(OUTCOME),
        s(FAILURE_REASON),
        s(FAILURE_CATEGORY),
        s(ERROR_CODE),
        s(IP),
        s(CLIENT_TYPE),
        s(CLIENT_KIND),
        s(USER_AGENT),
        b(WRITEBACK_INVOLVED),
        s(WRITEBACK_OUTCOME),
        s(WRITEBACK_ERROR_CODE),
        s(WRITEBACK_JOIN),
    ])
}

fn registration_coverage_daily_schema() -> Schema {
    use cols::*;
    Schema::new(vec![
        d_req(SNAPSHOT_DATE),
        s_req(USER_TYPE),
        s_req(ROLE),
        s_req(DEPARTMENT),
        b(ACCOUNT_ENABLED),
        i64f(USERS),
        i64f(SSPR_REGISTERED),
        i64f(SSPR_ENABLED),
        i64f(SSPR_CAPABLE),
        i64f(MFA_CAPABLE),
        i64f(PASSWORDLESS_CAPABLE),
    ])
}

fn writeback_operations_schema() -> Schema {
    use cols::*;
    Schema::new(vec![
        s_req(TRACKING_ID),
        d_req(OPERATION_DATE),
        s(COMPUTER),
        s(OPERATION),
        t_req(STARTED_AT),
        t(ENDED_AT),
        f64f(DURATION_MS),
        s_req(OUTCOME),
        i32f(ERROR_EVENT_ID),
        s(HRESULT),
        s(ERROR_CODE),
        s(CATEGORY),
    ])
}

fn error_events_schema() -> Schema {
    use cols::*;
    Schema::new(vec![
        d_req(EVENT_DATE),
        t_req(TIME),
        s_req(SOURCE),
        s_req(CODE),
        s(NAME),
        s(CATEGORY),
        s(MEANING),
        s(RESOLUTION),
        s(DETAIL),
        s(CORRELATION_ID),
        s(SUBJECT),
    ])
}

pub(crate) static RESET_ATTEMPTS: TableDef = TableDef {
    name: tables::RESET_ATTEMPTS,
    partition_col: cols::ATTEMPT_DATE,
    // By who started it and how it ended before time (DESIGN.md says time first): almost every
    // report filters on these two, and a day file is one row group, so only a page index over
    // rows grouped by outcome lets the reader skip the pages of the other outcomes (blocked
    // users: 71 -> 37 ms over 1.7M attempts). Time stays ordered within each outcome, and
    // the day partition still bounds it.
    sort_cols: &[cols::INITIATED_BY, cols::OUTCOME, cols::STARTED_AT, cols::CORRELATION_ID],
    key_cols: &[cols::CORRELATION_ID, cols::INITIATED_BY],
    key_across_partitions: false,
    source_api: "sspr build (queries/derived/reset_attempts.sql)",
    plain_cols: &[cols::CORRELATION_ID, cols::STARTED_AT, cols::ENDED_AT, cols::DURATION_SECONDS],
    // Pages of 4,096 rows instead of 20,000: with 120k attempts a day, a 20,000-row page at each
    // edge of an outcome's run makes the reader decode ~40% more rows than match (time_to_reset
    // read 1.53M rows for 1.09M succeeded; 1.18M with 4,096-row pages).
    page_rows: 4_096,
    schema: reset_attempts_schema,
};
pub(crate) static REGISTRATION_COVERAGE_DAILY: TableDef = TableDef {
    name: tables::REGISTRATION_COVERAGE_DAILY,
    partition_col: cols::SNAPSHOT_DATE,
    sort_cols: &[cols::USER_TYPE, cols::ROLE, cols::DEPARTMENT, cols::ACCOUNT_ENABLED],
    key_cols: &[cols::SNAPSHOT_DATE, cols::USER_TYPE, cols::ROLE, cols::DEPARTMENT, cols::ACCOUNT_ENABLED],
    key_across_partitions: false,
    source_api: "sspr build (queries/derived/registration_coverage_daily.sql)",
    plain_cols: &[],
    page_rows: PAGE_ROWS,
    schema: registration_coverage_daily_schema,
};
pub(crate) static WRITEBACK_OPERATIONS: TableDef = TableDef {
    name: tables::WRITEBACK_OPERATIONS,
    partition_col: cols::OPERATION_DATE,
    sort_cols: &[cols::STARTED_AT, cols::TRACKING_ID],
    key_cols: &[cols::TRACKING_ID, cols::COMPUTER],
    key_across_partitions: false,
    source_api: "sspr build (queries/derived/writeback_operations.sql)",
    plain_cols: &[cols::TRACKING_ID, cols::STARTED_AT],
    page_rows: PAGE_ROWS,
    schema: writeback_operations_schema,
};
pub(crate) static ERROR_EVENTS: TableDef = TableDef {
    name: tables::ERROR_EVENTS,
    partition_col: cols::EVENT_DATE,
    sort_cols: &[cols::TIME, cols::SOURCE, cols::CODE],
    key_cols: &[cols::TIME, cols::SOURCE, cols::CODE, cols::CORRELATION_ID, cols::SUBJECT],
    key_across_partitions: false,
    source_api: "sspr build (queries/derived/error_events.sql)",
    plain_cols: &[],
    page_rows: PAGE_ROWS,
    schema: error_events_schema,
};
