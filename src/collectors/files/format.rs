//! The input formats the importer knows, and how a file's format is told.

use std::path::Path;

/// Input formats `sspr import --format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileFormat {
    /// Detect per file and per record.
    Auto,
    /// Graph `directoryAudits` responses (page, array of pages, JSON lines).
    GraphAudit,
    /// Graph `userRegistrationDetails` responses.
    GraphRegistration,
    /// Graph `users` responses.
    GraphUsers,
    /// Graph `roleManagement/directory/roleAssignments` responses (`$expand=roleDefinition`).
    GraphRoleAssignments,
    /// Diagnostic-settings archive (`PT1H.json`, envelope + `properties`).
    DiagnosticArchive,
    /// Log Analytics `AuditLogs` export as JSON (lines or array).
    LogAnalyticsJson,
    /// Log Analytics `AuditLogs` export as CSV.
    LogAnalyticsCsv,
    /// The Entra admin center's audit log download as CSV (`Date (UTC)`, `CorrelationId`, …).
    PortalCsv,
    /// Windows event log file (`.evtx`).
    Evtx,
    /// Event XML: `wevtutil qe /f:xml` (with or without a root element), Event Viewer "Save as XML".
    EventXml,
    /// `Get-WinEvent | Export-Csv`.
    EventCsv,
    /// `Get-WinEvent | ConvertTo-Json`, or `evtx_dump -o json|jsonl`.
    EventJson,
}

/// What `sspr import` reads, for the message that a file is none of them.
pub(crate) const SUPPORTED: &str = "Graph JSON (directoryAudits, userRegistrationDetails, users, roleAssignments), the \
    diagnostic-settings archive (PT1H.json), Log Analytics AuditLogs (JSON or CSV), the Entra admin \
    center's audit log download (CSV), and Windows event logs (.evtx, event XML, Get-WinEvent CSV or \
    JSON)";

/// File extensions picked up when a folder is imported.
pub(crate) const EXTENSIONS: &[&str] = &["json", "jsonl", "ndjson", "csv", "evtx", "xml"];

pub(crate) fn is_csv(path: &Path, format: FileFormat) -> bool {
    matches!(format, FileFormat::LogAnalyticsCsv | FileFormat::PortalCsv)
        || (format == FileFormat::Auto
            && path.extension().and_then(|x| x.to_str()).is_some_and(|x| x.eq_ignore_ascii_case("csv")))
}
