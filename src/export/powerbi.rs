//! The Power BI Project shipped under `dashboards/powerbi/` (PBIP, its semantic model in TMDL),
//! generated from the tables' schemas so that the model and the export cannot drift apart:
//! `tests/it/powerbi.rs` holds the shipped files to this generator and to a real export
//! (`SSPR_WRITE_MODEL=1` rewrites them after a schema change).
//!
//! One query per exported table: it reads `_current.json` in the export root (a folder or an
//! ADLS Gen2 URL, parameters `ExportRoot` and `ExportSource`), then every `.parquet` file of the
//! table in the export it names, and sets each column's type. A date table, the user dimension
//! (the latest `users` snapshot), relationships from attempts, registrations, coverage and errors
//! to users and dates, and the measures of the overview.

use std::fmt::Write as _;

use datafusion::arrow::datatypes::{DataType, Schema};

use crate::query::context::{REFERENCE_TABLES, reference_batch};
use crate::store::schema::{DERIVED_TABLES, TableDef};

use super::DIMENSIONS;

/// The project's name (its folders are `<NAME>.SemanticModel` and `<NAME>.Report`).
pub const NAME: &str = "SSPR";

/// A relationship: (from table, from column, to table, to column).
pub const RELATIONSHIPS: &[(&str, &str, &str, &str)] = &[
    ("reset_attempts", "attempt_date", "Date", "Date"),
    ("reset_attempts", "user_id", "User", "user_id"),
    ("registration_details", "snapshot_date", "Date", "Date"),
    ("registration_details", "user_id", "User", "user_id"),
    ("registration_coverage_daily", "snapshot_date", "Date", "Date"),
    ("error_events", "event_date", "Date", "Date"),
    ("error_events", "subject", "User", "user_principal_name"),
    ("writeback_operations", "operation_date", "Date", "Date"),
];

/// Measures: (table, name, DAX, format string, description).
pub const MEASURES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "registration_coverage_daily",
        "Coverage %",
        "VAR latest = MAX ( registration_coverage_daily[snapshot_date] ) RETURN DIVIDE ( CALCULATE ( SUM ( registration_coverage_daily[sspr_capable] ), registration_coverage_daily[snapshot_date] = latest, registration_coverage_daily[account_enabled] = TRUE () ), CALCULATE ( SUM ( registration_coverage_daily[users] ), registration_coverage_daily[snapshot_date] = latest, registration_coverage_daily[account_enabled] = TRUE () ) )",
        "0.0%",
        "Share of enabled accounts able to reset their password themselves (registered and enabled for SSPR) in the latest snapshot of the selection, as the Entra portal counts (sspr query registration_coverage).",
    ),
    (
        "registration_coverage_daily",
        "Coverage % (all accounts)",
        "VAR latest = MAX ( registration_coverage_daily[snapshot_date] ) RETURN DIVIDE ( CALCULATE ( SUM ( registration_coverage_daily[sspr_capable] ), registration_coverage_daily[snapshot_date] = latest ), CALCULATE ( SUM ( registration_coverage_daily[users] ), registration_coverage_daily[snapshot_date] = latest ) )",
        "0.0%",
        "Coverage % with disabled accounts counted too (registration_coverage include_disabled=true).",
    ),
    (
        "reset_attempts",
        "Reset success rate",
        "DIVIDE ( CALCULATE ( COUNTROWS ( reset_attempts ), reset_attempts[initiated_by] = \"self\", reset_attempts[outcome] = \"succeeded\" ), CALCULATE ( COUNTROWS ( reset_attempts ), reset_attempts[initiated_by] = \"self\" ) )",
        "0.0%",
        "Self-service attempts that ended with a new password, of all self-service attempts (sspr query reset_success_daily).",
    ),
    (
        "reset_attempts",
        "Median time to reset (s)",
        "CALCULATE ( MEDIAN ( reset_attempts[duration_seconds] ), reset_attempts[initiated_by] = \"self\", reset_attempts[outcome] = \"succeeded\" )",
        "0",
        "Median seconds from the first step to a new password of successful self-service attempts (sspr query time_to_reset).",
    ),
    (
        "error_events",
        "Errors",
        "COUNTROWS ( error_events )",
        "#,0",
        "Errors from every source: cloud steps, the writeback server, the credential provider.",
    ),
    (
        "error_events",
        "Errors per day",
        "AVERAGEX ( VALUES ( 'Date'[Date] ), CALCULATE ( COUNTROWS ( error_events ) ) + 0 )",
        "#,0.0",
        "Errors per calendar day of the selected dates (days without an error count as 0).",
    ),
];

/// The model's data type of an export column.
fn model_type(t: &DataType) -> &'static str {
    match t {
        DataType::Boolean => "boolean",
        DataType::Int32 | DataType::Int64 => "int64",
        DataType::Float64 => "double",
        DataType::Date32 | DataType::Timestamp(_, _) => "dateTime",
        _ => "string",
    }
}

/// The Power Query type of an export column.
fn m_type(t: &DataType) -> &'static str {
    match t {
        DataType::Boolean => "type logical",
        DataType::Int32 | DataType::Int64 => "Int64.Type",
        DataType::Float64 => "type number",
        DataType::Date32 => "type date",
        DataType::Timestamp(_, _) => "type datetimezone",
        _ => "type text",
    }
}

/// Every table the model reads from the export: (name, schema).
fn exported_tables() -> Vec<(String, std::sync::Arc<Schema>)> {
    let mut out: Vec<(String, std::sync::Arc<Schema>)> = DERIVED_TABLES
        .iter()
        .chain(DIMENSIONS.iter())
        .map(|t: &&TableDef| (t.name.to_string(), t.schema()))
        .collect();
    for (name, csv) in REFERENCE_TABLES {
        let batch = reference_batch(name, csv).expect("the shipped reference tables parse");
        out.push((name.to_string(), batch.schema()));
    }
    out
}

/// TMDL quotes a name that is not a plain identifier.
fn quoted(name: &str) -> String {
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        name.to_string()
    } else {
        format!("'{}'", name.replace('\'', "''"))
    }
}

/// The project's files: (path under `dashboards/powerbi/`, contents).
pub fn files() -> Vec<(String, String)> {
    let sm = format!("{NAME}.SemanticModel");
    let def = format!("{sm}/definition");
    let tables = exported_tables();
    let mut out = vec![
        (
            format!("{NAME}.pbip"),
            format!(
                "{{\n  \"version\": \"1.0\",\n  \"artifacts\": [\n    {{\n      \"report\": {{\n        \"path\": \"{NAME}.Report\"\n      }}\n    }}\n  ],\n  \"settings\": {{\n    \"enableAutoRecovery\": true\n  }}\n}}\n"
            ),
        ),
        (format!("{sm}/definition.pbism"), "{\n  \"version\": \"4.0\",\n  \"settings\": {}\n}\n".to_string()),
        (
            format!("{NAME}.Report/definition.pbir"),
            format!(
                "{{\n  \"version\": \"4.0\",\n  \"datasetReference\": {{\n    \"byPath\": {{\n      \"path\": \"../{sm}\"\n    }}\n  }}\n}}\n"
            ),
        ),
        (
            format!("{NAME}.Report/report.json"),
            "{\n  \"config\": \"{\\\"version\\\":\\\"5.43\\\"}\",\n  \"layoutOptimization\": 0,\n  \"resourcePackages\": [],\n  \"sections\": [\n    {\n      \"config\": \"{}\",\n      \"displayName\": \"Overview\",\n      \"displayOption\": 1,\n      \"filters\": \"[]\",\n      \"height\": 720.00,\n      \"name\": \"ReportSection\",\n      \"visualContainers\": [],\n      \"width\": 1280.00\n    }\n  ]\n}\n".to_string(),
        ),
        (format!("{def}/database.tmdl"), "database\n\tcompatibilityLevel: 1567\n".to_string()),
        (format!("{def}/model.tmdl"), model(&tables)),
        (format!("{def}/expressions.tmdl"), expressions()),
        (format!("{def}/relationships.tmdl"), relationships()),
        (format!("{def}/tables/Date.tmdl"), date_table()),
        (format!("{def}/tables/User.tmdl"), user_table()),
    ];
    for (name, schema) in &tables {
        out.push((format!("{def}/tables/{name}.tmdl"), table(name, schema)));
    }
    out
}

fn model(tables: &[(String, std::sync::Arc<Schema>)]) -> String {
    let mut s = String::from(
        "model Model\n\tculture: en-US\n\tdefaultPowerBIDataSourceVersion: powerBI_V3\n\tsourceQueryCulture: en-US\n\n",
    );
    for name in ["Date", "User"].iter().map(|s| s.to_string()).chain(tables.iter().map(|(n, _)| n.clone())) {
        let _ = writeln!(s, "ref table {}", quoted(&name));
    }
    s
}

fn expressions() -> String {
    // The reader every table query calls: _current.json first, then the export it names.
    // With `dated`, the files of partition folders (`<column>=YYYY-MM-DD`) outside
    // RangeStart..RangeEnd are skipped unread: an incremental refresh reads only its days.
    let reader = r#"(table as text, optional dated as nullable logical) as table =>
		let
		    Root = Text.TrimEnd(ExportRoot, {"/", "\"}),
		    FromAdls = ExportSource = "ADLS",
		    Pointer = Json.Document(if FromAdls then AzureStorage.DataLakeContents(Root & "/_current.json") else File.Contents(Root & "\_current.json")),
		    Folder = if FromAdls then Root & "/" & Pointer[export_id] & "/" & table else Root & "\" & Pointer[export_id] & "\" & table,
		    Files = if FromAdls then AzureStorage.DataLake(Folder, [HierarchicalNavigation = false]) else Folder.Files(Folder),
		    Parquet = Table.SelectRows(Files, each [Extension] = ".parquet"),
		    DayOf = (path as text) as date => Date.FromText(Text.AfterDelimiter(Text.TrimEnd(path, {"/", "\"}), "=", {0, RelativePosition.FromEnd})),
		    InRange = if dated = true then Table.SelectRows(Parquet, each DayOf([Folder Path]) >= Date.From(RangeStart) and DayOf([Folder Path]) < Date.From(RangeEnd)) else Parquet,
		    Read = Table.AddColumn(InRange, "Data", each Parquet.Document([Content])),
		    Combined = Table.Combine(Read[Data])
		in
		    Combined"#;
    format!(
        "/// The export root: a folder or share (C:\\sspr\\powerbi-export) or an ADLS Gen2 URL\n/// (https://account.dfs.core.windows.net/filesystem/path).\nexpression ExportRoot = \"C:\\sspr\\powerbi-export\" meta [IsParameterQuery = true, Type = \"Text\", IsParameterQueryRequired = true]\n\n/// Folder (a local folder or share, refreshed through a gateway) or ADLS (no gateway).\nexpression ExportSource = \"Folder\" meta [IsParameterQuery = true, List = {{\"Folder\", \"ADLS\"}}, DefaultValue = \"Folder\", Type = \"Text\", IsParameterQueryRequired = true]\n\n/// One exported table: every .parquet file of it in the export _current.json names.\nexpression SsprTable =\n\t\t{reader}\n\n/// Incremental refresh (Power BI's RangeStart/RangeEnd): the dated tables load the days from\n/// RangeStart up to, not including, RangeEnd. The defaults span every date, so without a refresh\n/// policy every row loads; a policy set on a table in Desktop moves them per refresh.\nexpression RangeStart = #datetime(2000, 1, 1, 0, 0, 0) meta [IsParameterQuery = true, Type = \"DateTime\", IsParameterQueryRequired = true]\n\nexpression RangeEnd = #datetime(2100, 1, 1, 0, 0, 0) meta [IsParameterQuery = true, Type = \"DateTime\", IsParameterQueryRequired = true]\n"
    )
}

fn relationships() -> String {
    let mut s = String::new();
    for (ft, fc, tt, tc) in RELATIONSHIPS {
        let _ = writeln!(
            s,
            "relationship {ft}_{fc}_{tt}\n\tfromColumn: {}.{fc}\n\ttoColumn: {}.{}\n",
            quoted(ft),
            quoted(tt),
            quoted(tc)
        );
    }
    s
}

fn date_table() -> String {
    let m = r#"let
				    Start = #date(2020, 1, 1),
				    End = Date.AddYears(Date.From(DateTime.LocalNow()), 1),
				    Days = List.Dates(Start, Duration.Days(End - Start) + 1, #duration(1, 0, 0, 0)),
				    Base = Table.FromList(Days, Splitter.SplitByNothing(), type table [Date = date]),
				    Year = Table.AddColumn(Base, "Year", each Date.Year([Date]), Int64.Type),
				    Month = Table.AddColumn(Year, "Month", each Date.ToText([Date], "yyyy-MM"), type text),
				    Weekday = Table.AddColumn(Month, "Weekday", each Date.DayOfWeekName([Date], "en-US"), type text)
				in
				    Weekday"#;
    let mut s = String::from(
        "/// Calendar days from 2020 to a year ahead; every date column relates to it.\ntable Date\n\tdataCategory: Time\n\n",
    );
    for (name, ty, extra) in [
        ("Date", "dateTime", "\t\tisKey\n\t\tformatString: yyyy-mm-dd\n"),
        ("Year", "int64", "\t\tformatString: 0\n"),
        ("Month", "string", ""),
        ("Weekday", "string", ""),
    ] {
        let _ = write!(
            s,
            "\tcolumn {name}\n\t\tdataType: {ty}\n{extra}\t\tsummarizeBy: none\n\t\tsourceColumn: {name}\n\n"
        );
    }
    let _ = write!(s, "\tpartition Date = m\n\t\tmode: import\n\t\tsource =\n\t\t\t\t{m}\n");
    s
}

fn user_table() -> String {
    let users = crate::store::schema::USERS.schema();
    let m = r#"let
				    Snapshots = SsprTable("users"),
				    Latest = List.Max(Snapshots[snapshot_date]),
				    Rows = Table.SelectRows(Snapshots, each [snapshot_date] = Latest),
				    Kept = Table.SelectColumns(Rows, {"user_id", "user_principal_name", "display_name", "user_type", "department", "account_enabled"}),
				    Typed = Table.TransformColumnTypes(Kept, {{"user_id", type text}, {"user_principal_name", type text}, {"display_name", type text}, {"user_type", type text}, {"department", type text}, {"account_enabled", type logical}})
				in
				    Typed"#;
    let mut s = String::from(
        "/// The directory's users as of the latest snapshot: one row per user id.\ntable User\n\n",
    );
    for name in
        ["user_id", "user_principal_name", "display_name", "user_type", "department", "account_enabled"]
    {
        let field = users.field_with_name(name).expect("users has the column");
        let key = if name == "user_id" { "\t\tisKey\n" } else { "" };
        let _ = write!(
            s,
            "\tcolumn {name}\n\t\tdataType: {}\n{key}\t\tsummarizeBy: none\n\t\tsourceColumn: {name}\n\n",
            model_type(field.data_type())
        );
    }
    let _ = write!(s, "\tpartition User = m\n\t\tmode: import\n\t\tsource =\n\t\t\t\t{m}\n");
    s
}

fn table(name: &str, schema: &Schema) -> String {
    let mut s = format!("table {}\n\n", quoted(name));
    for (t, measure, dax, format, description) in MEASURES.iter().filter(|m| m.0 == name) {
        debug_assert_eq!(*t, name);
        let _ = write!(
            s,
            "\t/// {description}\n\tmeasure {} = {dax}\n\t\tformatString: {format}\n\n",
            quoted(measure)
        );
    }
    for f in schema.fields() {
        let ty = model_type(f.data_type());
        let summarize = if matches!(ty, "int64" | "double")
            && !f.name().ends_with("_order")
            && !f.name().ends_with("_id")
        {
            "sum"
        } else {
            "none"
        };
        let _ = write!(
            s,
            "\tcolumn {}\n\t\tdataType: {ty}\n\t\tsummarizeBy: {summarize}\n\t\tsourceColumn: {}\n\n",
            quoted(f.name()),
            f.name()
        );
    }
    let types: Vec<String> =
        schema.fields().iter().map(|f| format!("{{\"{}\", {}}}", f.name(), m_type(f.data_type()))).collect();
    // A derived table is dated by its partition column: its files and rows are filtered to
    // RangeStart..RangeEnd, the filter an incremental refresh policy needs on the table.
    let dated = DERIVED_TABLES.iter().find(|t| t.name == name).map(|t| t.partition_col);
    let (args, last) = match dated {
        Some(_) => (format!("\"{name}\", true"), "InRange"),
        None => (format!("\"{name}\""), "Typed"),
    };
    let _ = write!(
        s,
        "\tpartition {} = m\n\t\tmode: import\n\t\tsource =\n\t\t\t\tlet\n\t\t\t\t    Source = SsprTable({args}),\n\t\t\t\t    Typed = Table.TransformColumnTypes(Source, {{{}}}){}\n\t\t\t\tin\n\t\t\t\t    {last}\n",
        quoted(name),
        types.join(", "),
        dated.map(|c| format!(",\n\t\t\t\t    InRange = Table.SelectRows(Typed, each [{c}] >= Date.From(RangeStart) and [{c}] < Date.From(RangeEnd))")).unwrap_or_default()
    );
    s
}
