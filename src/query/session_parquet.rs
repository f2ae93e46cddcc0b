//! The lake tables' file format: DataFusion's Parquet format, reading with the Parquet options of
//! the session that plans the scan.
//!
//! A `ListingTable` keeps the options its format was made with, and `ParquetFormat` hands them to
//! every scan; DataFusion's own table factory copies the session's `datafusion.execution.parquet.*`
//! into the format when it makes the table. Our tables are made once per context, so neither a
//! saved query's `-- settings:` (applied to its own copy of the session) nor
//! `DATAFUSION_EXECUTION_PARQUET_*` from the environment reached the scans: `enable_page_index`,
//! `pruning`, `bloom_filter_on_read` and the rest were silently ignored (only `pushdown_filters`
//! got through, by the filter pushdown rule). This format takes them from the session at each
//! scan.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::config::TableParquetOptions;
use datafusion::common::{Result, Statistics};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::FileMeta;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::physical_plan::{FileScanConfig, FileSinkConfig, FileSource};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::physical_expr::LexRequirement;
use datafusion::physical_plan::ExecutionPlan;
use object_store::{ObjectMeta, ObjectStore};

/// See the module documentation. Reading footers and statistics (planning) uses the session's
/// options too; only the file extension is the format's own.
#[derive(Debug, Default)]
pub(crate) struct SessionParquet;

impl SessionParquet {
    /// DataFusion's Parquet format with `state`'s options.
    fn format(state: &dyn Session) -> ParquetFormat {
        let options = TableParquetOptions {
            global: state.config_options().execution.parquet.clone(),
            ..Default::default()
        };
        ParquetFormat::default().with_options(options)
    }
}

#[async_trait]
impl FileFormat for SessionParquet {
    fn get_ext(&self) -> String {
        ParquetFormat::default().get_ext()
    }

    fn get_ext_with_compression(&self, compression: &FileCompressionType) -> Result<String> {
        ParquetFormat::default().get_ext_with_compression(compression)
    }

    fn compression_type(&self) -> Option<FileCompressionType> {
        None
    }

    async fn infer_schema(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        objects: &[ObjectMeta],
    ) -> Result<SchemaRef> {
        Self::format(state).infer_schema(state, store, objects).await
    }

    async fn infer_stats(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<Statistics> {
        Self::format(state).infer_stats(state, store, table_schema, object).await
    }

    async fn infer_stats_and_ordering(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<FileMeta> {
        Self::format(state).infer_stats_and_ordering(state, store, table_schema, object).await
    }

    async fn create_physical_plan(
        &self,
        state: &dyn Session,
        conf: FileScanConfig,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Self::format(state).create_physical_plan(state, conf).await
    }

    async fn create_writer_physical_plan(
        &self,
        input: Arc<dyn ExecutionPlan>,
        state: &dyn Session,
        conf: FileSinkConfig,
        order_requirements: Option<LexRequirement>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Self::format(state).create_writer_physical_plan(input, state, conf, order_requirements).await
    }

    fn file_source(&self, table_schema: TableSchema) -> Arc<dyn FileSource> {
        // Its options are replaced by the session's in `create_physical_plan`.
        ParquetFormat::default().file_source(table_schema)
    }
}
