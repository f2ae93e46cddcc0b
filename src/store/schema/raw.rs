//! The raw tables: what the collectors write (Graph and export imports, event logs, the ledger).

use datafusion::arrow::datatypes::{DataType, Field, Schema};

use super::{PAGE_ROWS, TableDef, b, cols, d_req, i32f, i64f, s, s_req, t, t_req, tables};

fn audit_events_schema() -> Schema {
    use cols::*;
    Schema::new(vec![
        s_req(ID),
        t_req(ACTIVITY_TIME),
        d_req(EVENT_DATE),
        s(CATEGORY),
        s(ACTIVITY),
        s(LOGGED_BY_SERVICE),
        s(OPERATION_TYPE),
        s(RESULT),
        s(RESULT_REASON),
        s(RESULT_DESCRIPTION),
        s(CORRELATION_ID),
        s(ACTOR_USER_ID),
        s(ACTOR_UPN),
        s(ACTOR_DISPLAY_NAME),
        s(ACTOR_IP),
        s(ACTOR_APP_ID),
        s(ACTOR_APP_DISPLAY_NAME),
        s(ACTOR_SERVICE_PRINCIPAL_ID),
        s(TARGET_USER_ID),
        s(TARGET_UPN),
        s(TARGET_DISPLAY_NAME),
        s(USER_AGENT),
        s(CLIENT_TYPE),
        s(ADDITIONAL_DETAILS_JSON),
        s(TARGET_RESOURCES_JSON),
        s(INITIATED_BY_JSON),
        s(EXTRA_JSON),
        s(TENANT_ID),
        s_req(SOURCE),
        s_req(SOURCE_FILE),
        t_req(INGESTED_AT),
    ])
}

fn registration_details_schema() -> Schema {
    use cols::*;
    Schema::new(vec![
        d_req(SNAPSHOT_DATE),
        s_req(USER_ID),
        s(USER_PRINCIPAL_NAME),
        s(USER_DISPLAY_NAME),
        s(USER_TYPE),
        b(IS_ADMIN),
        b(IS_SSPR_REGISTERED),
        b(IS_SSPR_ENABLED),
        b(IS_SSPR_CAPABLE),
        b(IS_MFA_REGISTERED),
        b(IS_MFA_CAPABLE),
        b(IS_PASSWORDLESS_CAPABLE),
        b(IS_SYSTEM_PREFERRED_ENABLED),
        s(METHODS_REGISTERED),
        s(SYSTEM_PREFERRED_METHODS),
        s(USER_PREFERRED_METHOD),
        t(LAST_UPDATED_TIME),
        s(EXTRA_JSON),
        s_req(SOURCE_FILE),
        t_req(INGESTED_AT),
    ])
}

fn users_schema() -> Schema {
    use cols::*;
    Schema::new(vec![
        d_req(SNAPSHOT_DATE),
        s_req(USER_ID),
        s(USER_PRINCIPAL_NAME),
        s(DISPLAY_NAME),
        s(USER_TYPE),
        s(DEPARTMENT),
        s(JOB_TITLE),
        b(ACCOUNT_ENABLED),
        t(CREATED_TIME),
        b(ON_PREMISES_SYNC_ENABLED),
        s(EXTRA_JSON),
        s_req(SOURCE_FILE),
        t_req(INGESTED_AT),
    ])
}

/// Directory role assignments (`roleManagement/directory/roleAssignments?$expand=roleDefinition`):
/// who holds which role at the snapshot, for the privileged-admin / admin / user split. The
/// principal's type is kept as Graph names it (`user`, `group`, `servicePrincipal`), from the
/// expanded principal's `@odata.type` when it is there.
fn role_assignments_schema() -> Schema {
    use cols::*;
    Schema::new(vec![
        d_req(SNAPSHOT_DATE),
        s_req(ASSIGNMENT_ID),
        s_req(PRINCIPAL_ID),
        s(PRINCIPAL_TYPE),
        s(ROLE_DEFINITION_ID),
        s(ROLE_TEMPLATE_ID),
        s(ROLE_NAME),
        b(ROLE_IS_BUILT_IN),
        s(DIRECTORY_SCOPE_ID),
        s(EXTRA_JSON),
        s_req(SOURCE_FILE),
        t_req(INGESTED_AT),
    ])
}

/// The three Windows event-log tables share one column set: the facts every record has, plus the
/// stable facts parsed from messages and event data (tracking id, hresult, accounts).
/// `event_record_id` is `System/EventRecordID` (kept by exports); `header_record_id` the EVTX
/// record header's id (renumbered by exports). `content_hash` is set only for records without an
/// `EventRecordID`, where it stands in for it in the natural key.
fn event_log_schema() -> Schema {
    use cols::*;
    Schema::new(vec![
        s_req(COMPUTER),
        s_req(CHANNEL),
        s_req(PROVIDER),
        Field::new(EVENT_ID, DataType::Int32, false),
        i32f(QUALIFIERS),
        i32f(LEVEL),
        i32f(TASK),
        s(KEYWORDS),
        t_req(TIME_CREATED),
        d_req(EVENT_DATE),
        i64f(EVENT_RECORD_ID),
        i64f(HEADER_RECORD_ID),
        s(MESSAGE),
        s(EVENT_DATA_JSON),
        s(TRACKING_ID),
        s(HRESULT),
        s(TARGET_ACCOUNT),
        s(TARGET_DOMAIN),
        s(SUBJECT_ACCOUNT),
        s(SUBJECT_DOMAIN),
        b(AUDIT_SUCCESS),
        s(CONTENT_HASH),
        s_req(SOURCE_FILE),
        s_req(SOURCE_FORMAT),
        t_req(INGESTED_AT),
    ])
}

/// One row per `sspr nightly` run (its manifest's headline; the whole manifest is
/// `_runs/<run_id>.json`).
fn runs_schema() -> Schema {
    use cols::*;
    Schema::new(vec![
        s_req(RUN_ID),
        d_req(RUN_DATE),
        t_req(STARTED_AT),
        t(FINISHED_AT),
        s_req(OUTCOME),
        Field::new(NOTHING_NEW, DataType::Boolean, false),
        i64f(SOURCES),
        i64f(SOURCES_FAILED),
        i64f(FILES_IMPORTED),
        i64f(RECORDS),
        i64f(ROWS_NEW),
        i64f(QUARANTINED),
        i64f(RETRIES),
        i64f(THROTTLED),
        i64f(BUILD_PARTITIONS),
        i64f(OUTPUTS),
        i64f(ERRORS),
        s(ERROR),
        s(EXPORT_ID),
        s(DELIVERED),
        s(CONFIG_DIGEST),
        s(VERSION),
    ])
}

fn ingest_ledger_schema() -> Schema {
    use cols::*;
    Schema::new(vec![
        s_req(RUN_ID),
        d_req(INGEST_DATE),
        s_req(SOURCE),
        s_req(ITEM),
        s(FORMAT),
        t(WINDOW_START),
        t(WINDOW_END),
        i64f(PAGES),
        i64f(RECORDS),
        i64f(ROWS_NEW),
        i64f(DUPLICATES),
        i64f(RETRIES),
        i64f(THROTTLED),
        i64f(QUARANTINED),
        Field::new(COMPLETE, DataType::Boolean, false),
        s(ERROR),
        t_req(STARTED_AT),
        t(FINISHED_AT),
    ])
}

const EVENT_LOG_KEY: &[&str] = &[
    cols::COMPUTER,
    cols::CHANNEL,
    cols::EVENT_RECORD_ID,
    cols::TIME_CREATED,
    cols::EVENT_ID,
    cols::CONTENT_HASH,
];

/// Event-log columns of distinct values (see [`TableDef::plain_cols`]).
const EVENT_LOG_PLAIN: &[&str] = &[
    cols::TIME_CREATED,
    cols::EVENT_RECORD_ID,
    cols::HEADER_RECORD_ID,
    cols::EVENT_DATA_JSON,
    cols::MESSAGE,
    cols::TRACKING_ID,
    cols::CONTENT_HASH,
];

pub static AUDIT_EVENTS: TableDef = TableDef {
    name: tables::AUDIT_EVENTS,
    partition_col: cols::EVENT_DATE,
    sort_cols: &[cols::ACTIVITY_TIME, cols::ID],
    key_cols: &[cols::ID],
    key_across_partitions: true,
    source_api: "microsoft.graph directoryAudit v1.0",
    plain_cols: &[
        cols::ID,
        cols::ACTIVITY_TIME,
        cols::CORRELATION_ID,
        cols::ADDITIONAL_DETAILS_JSON,
        cols::TARGET_RESOURCES_JSON,
        cols::INITIATED_BY_JSON,
        cols::EXTRA_JSON,
    ],
    page_rows: PAGE_ROWS,
    schema: audit_events_schema,
};
pub(crate) static REGISTRATION_DETAILS: TableDef = TableDef {
    name: tables::REGISTRATION_DETAILS,
    partition_col: cols::SNAPSHOT_DATE,
    sort_cols: &[cols::USER_ID],
    key_cols: &[cols::SNAPSHOT_DATE, cols::USER_ID],
    key_across_partitions: false,
    source_api: "microsoft.graph userRegistrationDetails v1.0",
    plain_cols: &[cols::USER_ID, cols::USER_PRINCIPAL_NAME, cols::USER_DISPLAY_NAME, cols::LAST_UPDATED_TIME],
    page_rows: PAGE_ROWS,
    schema: registration_details_schema,
};
pub(crate) static USERS: TableDef = TableDef {
    name: tables::USERS,
    partition_col: cols::SNAPSHOT_DATE,
    sort_cols: &[cols::USER_ID],
    key_cols: &[cols::SNAPSHOT_DATE, cols::USER_ID],
    key_across_partitions: false,
    source_api: "microsoft.graph user v1.0",
    plain_cols: &[cols::USER_ID, cols::USER_PRINCIPAL_NAME, cols::DISPLAY_NAME, cols::CREATED_TIME],
    page_rows: PAGE_ROWS,
    schema: users_schema,
};
pub(crate) static ROLE_ASSIGNMENTS: TableDef = TableDef {
    name: tables::ROLE_ASSIGNMENTS,
    partition_col: cols::SNAPSHOT_DATE,
    sort_cols: &[cols::PRINCIPAL_ID, cols::ASSIGNMENT_ID],
    key_cols: &[cols::SNAPSHOT_DATE, cols::ASSIGNMENT_ID],
    key_across_partitions: false,
    source_api: "microsoft.graph unifiedRoleAssignment v1.0",
    plain_cols: &[cols::ASSIGNMENT_ID, cols::PRINCIPAL_ID, cols::ROLE_DEFINITION_ID, cols::ROLE_TEMPLATE_ID],
    page_rows: PAGE_ROWS,
    schema: role_assignments_schema,
};
pub(crate) static WRITEBACK_EVENTS: TableDef = TableDef {
    name: tables::WRITEBACK_EVENTS,
    partition_col: cols::EVENT_DATE,
    sort_cols: &[cols::TIME_CREATED, cols::COMPUTER, cols::EVENT_RECORD_ID],
    key_cols: EVENT_LOG_KEY,
    key_across_partitions: false,
    source_api: "windows eventlog Application",
    plain_cols: EVENT_LOG_PLAIN,
    page_rows: PAGE_ROWS,
    schema: event_log_schema,
};
pub(crate) static CREDENTIAL_PROVIDER_EVENTS: TableDef = TableDef {
    name: tables::CREDENTIAL_PROVIDER_EVENTS,
    partition_col: cols::EVENT_DATE,
    sort_cols: &[cols::TIME_CREATED, cols::COMPUTER, cols::EVENT_RECORD_ID],
    key_cols: EVENT_LOG_KEY,
    key_across_partitions: false,
    source_api: "windows eventlog",
    plain_cols: EVENT_LOG_PLAIN,
    page_rows: PAGE_ROWS,
    schema: event_log_schema,
};
pub static DC_SECURITY_EVENTS: TableDef = TableDef {
    name: tables::DC_SECURITY_EVENTS,
    partition_col: cols::EVENT_DATE,
    sort_cols: &[cols::TIME_CREATED, cols::COMPUTER, cols::EVENT_RECORD_ID],
    key_cols: EVENT_LOG_KEY,
    key_across_partitions: false,
    source_api: "windows eventlog Security",
    plain_cols: EVENT_LOG_PLAIN,
    page_rows: PAGE_ROWS,
    schema: event_log_schema,
};
pub(crate) static INGEST_LEDGER: TableDef = TableDef {
    name: tables::INGEST_LEDGER,
    partition_col: cols::INGEST_DATE,
    sort_cols: &[cols::STARTED_AT, cols::SOURCE, cols::ITEM],
    key_cols: &[cols::RUN_ID, cols::SOURCE, cols::ITEM],
    key_across_partitions: false,
    source_api: "sspr ingest ledger",
    plain_cols: &[],
    page_rows: PAGE_ROWS,
    schema: ingest_ledger_schema,
};
pub(crate) static RUNS: TableDef = TableDef {
    name: tables::RUNS,
    partition_col: cols::RUN_DATE,
    sort_cols: &[cols::STARTED_AT, cols::RUN_ID],
    key_cols: &[cols::RUN_ID],
    key_across_partitions: false,
    source_api: "sspr nightly run",
    plain_cols: &[],
    page_rows: PAGE_ROWS,
    schema: runs_schema,
};
