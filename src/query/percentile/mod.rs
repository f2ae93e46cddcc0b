//! `percentile_cont` with DataFusion's contract and cheaper accumulators for `DOUBLE` input.
//! Off with the other extensions (`[query] extensions`), DataFusion's own is used. No upstream
//! issue was found for its accumulator's cost, nor for the panic of DataFusion 55.2's when the
//! partial aggregation is skipped (below).
//!
//! The saved queries use the portable `percentile_cont(p) WITHIN GROUP (ORDER BY x)`. DataFusion's
//! own accumulator keeps every value, which an exact percentile must, but it also:
//! - grows one vector per aggregate by copying (each `percentile_cont` in a select list keeps its
//!   own copy of the column), and copies again when partial states are merged;
//! - finds an interpolated percentile with two full `select_nth` passes over all values, where the
//!   second value is the smallest of the part the first pass left above it.
//!
//! Measured on `time_to_reset` (three percentiles over 1.09M durations, overall and per client
//! kind) the final single-threaded step was the largest cost of the query. This module registers
//! the same function under the same name: the signature, coercion, `WITHIN GROUP` handling,
//! simplification (`0` and `1` become `min` / `max`) and state schema are DataFusion's, delegated
//! to its `PercentileCont`; only the accumulators for a `DOUBLE` input, a literal percentile and
//! no `DISTINCT` are ours. Every other case (other numeric types, `DISTINCT`, sliding windows,
//! a non-literal percentile) goes to DataFusion's accumulators, so results and errors stay its
//! own. The interpolation reproduces DataFusion's (a weight quantised to 1e-6), so both give
//! the same bits; the tests compare them on random data.

mod accumulators;
mod values;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::error::Result;
use datafusion::functions_aggregate::percentile_cont::PercentileCont as DataFusionPercentileCont;
use datafusion::logical_expr::function::{AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, GroupsAccumulator, Signature,
};
use datafusion::physical_expr::expressions::Literal;
use datafusion::scalar::ScalarValue;

use accumulators::{ChunkedPercentile, GroupedPercentile};

/// DataFusion's weight quantisation for interpolation (`INTERPOLATION_PRECISION` in its
/// `percentile_cont.rs`), kept so both implementations return the same value.
const INTERPOLATION_PRECISION: f64 = 1_000_000.0;

/// The `percentile_cont` aggregate to register on a session (replaces the built-in by name).
pub(crate) fn percentile_cont_udaf() -> AggregateUDF {
    AggregateUDF::from(PercentileCont::default())
}

#[derive(Debug, Default, PartialEq, Eq, Hash)]
struct PercentileCont {
    inner: DataFusionPercentileCont,
}

impl PercentileCont {
    /// The percentile this call computes when our accumulators apply to it: `DOUBLE` input, no
    /// `DISTINCT`, a literal percentile in [0, 1] (reversed for `ORDER BY x DESC`).
    fn fast_percentile(args: &AccumulatorArgs) -> Option<f64> {
        if args.is_distinct || args.expr_fields.first()?.data_type() != &DataType::Float64 {
            return None;
        }
        let literal = args.exprs.get(1)?.downcast_ref::<Literal>()?;
        let &ScalarValue::Float64(Some(p)) = literal.value() else { return None };
        if !(0.0..=1.0).contains(&p) {
            return None;
        }
        let descending = args.order_bys.first().is_some_and(|s| s.options.descending);
        Some(if descending { 1.0 - p } else { p })
    }
}

impl AggregateUDFImpl for PercentileCont {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        match Self::fast_percentile(&args) {
            Some(p) => Ok(Box::new(ChunkedPercentile::new(p))),
            None => self.inner.accumulator(args),
        }
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        // Window frames that slide need `retract_batch`, which only DataFusion's has.
        self.inner.create_sliding_accumulator(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        match Self::fast_percentile(&args) {
            Some(p) => Ok(Box::new(GroupedPercentile::new(p))),
            None => self.inner.create_groups_accumulator(args),
        }
    }

    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        self.inner.simplify()
    }

    fn supports_within_group_clause(&self) -> bool {
        self.inner.supports_within_group_clause()
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// The exact percentile of `values` (reordered in place), interpolated linearly between the two
/// closest ranks as DataFusion does. NaN sorts last (`f64::total_cmp`), as in DataFusion.
fn percentile_of(values: &mut [f64], percentile: f64) -> Option<f64> {
    match values.len() {
        0 => None,
        1 => Some(values[0]),
        len => {
            let index = percentile * ((len - 1) as f64);
            let lower_index = index.floor() as usize;
            let (_, lower, above) = values.select_nth_unstable_by(lower_index, f64::total_cmp);
            let lower = *lower;
            if index.ceil() as usize == lower_index {
                return Some(lower);
            }
            // The next rank is the smallest value the selection left above the lower one.
            let upper = above.iter().copied().reduce(|a, b| if b.total_cmp(&a).is_lt() { b } else { a })?;
            let weight = ((index - lower_index as f64) * INTERPOLATION_PRECISION) as usize as f64
                / INTERPOLATION_PRECISION;
            Some(lower + (upper - lower) * weight)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use datafusion::arrow::array::{
        ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    };
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;
    use datafusion::execution::FunctionRegistry;
    use datafusion::prelude::{SessionConfig, SessionContext};

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// The textbook definition: sort, then interpolate between ranks floor and ceil of p·(n−1).
    fn by_sorting(values: &[f64], p: f64) -> Option<f64> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let index = p * (sorted.len().checked_sub(1)? as f64);
        let (lo, hi) = (sorted[index.floor() as usize], sorted[index.ceil() as usize]);
        let weight =
            ((index - index.floor()) * INTERPOLATION_PRECISION) as usize as f64 / INTERPOLATION_PRECISION;
        Some(if lo == hi { lo } else { lo + (hi - lo) * weight })
    }

    #[test]
    fn selection_agrees_with_sorting() {
        let mut rng = Rng(0x5eed);
        for len in [0usize, 1, 2, 3, 10, 101, 1000] {
            for p in [0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0] {
                // Few distinct values (ties) and many, negative and positive.
                for spread in [3u64, 1_000_000] {
                    let values: Vec<f64> =
                        (0..len).map(|_| rng.below(spread) as f64 / 7.0 - 1000.0).collect();
                    let got = percentile_of(&mut values.clone(), p);
                    assert_eq!(got, by_sorting(&values, p), "len {len}, p {p}, spread {spread}");
                }
            }
        }
    }

    /// Four partitions of `rows` rows over `groups` groups of very different sizes, with nulls,
    /// `spread` distinct values (few for ties, many so that a lost value moves a rank) plus a few
    /// NaN and -0.0 (ordered as DataFusion orders them), a boolean for `FILTER`, an integer
    /// column (coerced to DOUBLE) and a row number.
    fn table(rng: &mut Rng, rows: i64, groups: u64, spread: u64) -> Arc<MemTable> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("g", DataType::Utf8, false),
            Field::new("x", DataType::Float64, true),
            Field::new("n", DataType::Int64, true),
            Field::new("keep", DataType::Boolean, true),
        ]));
        let mut partitions = Vec::new();
        let mut id = 0i64;
        for _ in 0..4 {
            let mut batches = Vec::new();
            for _ in 0..3 {
                let ids: Vec<i64> = (id..id + rows).collect();
                id += rows;
                let groups: Vec<String> =
                    (0..rows).map(|_| format!("g{}", rng.below(groups).pow(2) / groups)).collect();
                let x: Vec<Option<f64>> = (0..rows)
                    .map(|_| match rng.below(400) {
                        0..40 => None,
                        40 => Some(f64::NAN),
                        41 => Some(-0.0),
                        _ => Some((rng.below(spread) as f64) / 4.0),
                    })
                    .collect();
                let n: Vec<Option<i64>> =
                    (0..rows).map(|_| (rng.below(20) != 0).then(|| rng.below(100) as i64)).collect();
                let keep: Vec<Option<bool>> =
                    (0..rows).map(|_| (rng.below(15) != 0).then(|| rng.below(2) == 0)).collect();
                let columns: Vec<ArrayRef> = vec![
                    Arc::new(Int64Array::from(ids)),
                    Arc::new(StringArray::from(groups)),
                    Arc::new(Float64Array::from(x)),
                    Arc::new(Int64Array::from(n)),
                    Arc::new(BooleanArray::from(keep)),
                ];
                batches.push(RecordBatch::try_new(schema.clone(), columns).unwrap());
            }
            partitions.push(batches);
        }
        Arc::new(MemTable::try_new(schema, partitions).unwrap())
    }

    async fn run(ctx: &SessionContext, sql: &str) -> String {
        let batches = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")).collect().await;
        let batches = batches.unwrap_or_else(|e| panic!("{sql}: {e}"));
        pretty_format_batches(&batches).unwrap().to_string()
    }

    /// Every way a query can call `percentile_cont` returns exactly what DataFusion's own returns:
    /// grouped and not, `DESC`, `FILTER`, integers, `DISTINCT`, growing and sliding windows, and
    /// with the partial step skipped (each row its own state).
    #[tokio::test]
    async fn same_results_as_datafusion_in_every_form() {
        let mut rng = Rng(42);
        let t = table(&mut rng, 700, 60, 5000);
        let config = SessionConfig::new().with_target_partitions(4).with_batch_size(512);
        // Ours also skips the partial step as soon as groups are a tenth of the rows. DataFusion's
        // own accumulator cannot be compared there: its `convert_to_state` asserts one argument
        // and gets the percentile too, so the query panics (DataFusion 55.2).
        let skipping = config
            .clone()
            .set_usize("datafusion.execution.skip_partial_aggregation_probe_rows_threshold", 100)
            .set_str("datafusion.execution.skip_partial_aggregation_probe_ratio_threshold", "0.1");
        let theirs = SessionContext::new_with_config(config);
        let ours = SessionContext::new_with_config(skipping);
        ours.register_udaf(percentile_cont_udaf());
        for ctx in [&theirs, &ours] {
            ctx.register_table("t", t.clone()).unwrap();
        }
        let registered = ours.udaf("percentile_cont").unwrap();
        assert!(registered.inner().as_ref().downcast_ref::<PercentileCont>().is_some());

        let pc = |p: &str, order: &str| format!("percentile_cont({p}) WITHIN GROUP (ORDER BY {order})");
        let all_p = ["0", "0.01", "0.5", "0.9", "0.99", "1"].map(|p| pc(p, "x")).join(", ");
        let pairs = format!("SELECT id / 2 AS k, {} FROM t GROUP BY id / 2 ORDER BY k", pc("0.5", "x"));
        let queries = [
            format!("SELECT {all_p} FROM t"),
            format!("SELECT g, count(*), {all_p} FROM t GROUP BY g ORDER BY g"),
            format!("SELECT g, {}, {} FROM t GROUP BY g ORDER BY g", pc("0.9", "x DESC"), pc("0.25", "x DESC")),
            format!("SELECT g, {} FILTER (WHERE keep) FROM t GROUP BY g ORDER BY g", pc("0.5", "x")),
            format!("SELECT {} FILTER (WHERE keep) FROM t", pc("0.75", "x")),
            format!("SELECT g, {} FROM t GROUP BY g ORDER BY g", pc("0.3", "n")),
            "SELECT g, percentile_cont(DISTINCT x, 0.5) FROM t GROUP BY g ORDER BY g".to_string(),
            pairs.clone(),
            format!("SELECT {} FROM t WHERE x > 1e9", pc("0.5", "x")),
            "SELECT id, percentile_cont(x, 0.5) OVER (PARTITION BY g ORDER BY id) FROM t ORDER BY id".to_string(),
            "SELECT id, percentile_cont(x, 0.9) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 5 PRECEDING AND \
             CURRENT ROW) FROM t ORDER BY id"
                .to_string(),
        ];
        for sql in &queries {
            assert_eq!(run(&ours, sql).await, run(&theirs, sql).await, "{sql}");
        }
        let analyzed = run(&ours, &format!("EXPLAIN ANALYZE {pairs}")).await;
        assert!(
            analyzed.contains("skipped_aggregation_rows=")
                && !analyzed.contains("skipped_aggregation_rows=0,")
        );
        // Groups larger than a block, partial states large enough to be shared, not copied.
        let big = table(&mut rng, 12_000, 3, 1 << 40);
        for ctx in [&theirs, &ours] {
            ctx.register_table("big", big.clone()).unwrap();
        }
        for sql in [
            format!("SELECT g, count(x), {all_p} FROM big GROUP BY g ORDER BY g"),
            format!("SELECT count(x), {all_p} FROM big"),
        ] {
            assert_eq!(run(&ours, &sql).await, run(&theirs, &sql).await, "{sql}");
        }
        // A percentile outside [0, 1] is DataFusion's error, not ours.
        let bad = format!("SELECT {} FROM t", pc("1.5", "x"));
        let err = ours.sql(&bad).await.unwrap().collect().await.unwrap_err().to_string();
        assert!(err.contains("between 0.0 and 1.0") || err.contains("PERCENTILE_CONT"), "{err}");
    }
}
