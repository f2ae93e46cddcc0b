//! `percentile_cont` with DataFusion's contract and cheaper accumulators for `DOUBLE` input.
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

use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, ListArray, PrimitiveArray,
};
use datafusion::arrow::buffer::{OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::error::{DataFusionError, Result};
use datafusion::functions_aggregate::percentile_cont::PercentileCont as DataFusionPercentileCont;
use datafusion::logical_expr::function::{AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator, Signature,
};
use datafusion::physical_expr::expressions::Literal;
use datafusion::scalar::ScalarValue;
use datafusion_functions_aggregate_common::aggregate::groups_accumulator::accumulate::accumulate;
use datafusion_functions_aggregate_common::aggregate::groups_accumulator::nulls::filtered_null_mask;

/// DataFusion's weight quantisation for interpolation (`INTERPOLATION_PRECISION` in its
/// `percentile_cont.rs`), kept so both implementations return the same value.
const INTERPOLATION_PRECISION: f64 = 1_000_000.0;

/// The `percentile_cont` aggregate to register on a session (replaces the built-in by name).
pub fn percentile_cont_udaf() -> AggregateUDF {
    AggregateUDF::from(PercentileCont::default())
}

#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct PercentileCont {
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

/// Values a block holds once a group is large: 64 KiB.
const BLOCK: usize = 8192;

/// Below this many values a merged list is copied into the open block rather than kept as a
/// block of its own (an array handle costs more than a few values).
const SHARE_FROM: usize = 64;

/// The values of one group, in no particular order: full blocks that are never copied again
/// (arrays shared with the input, or blocks this store filled) and one open block. A vector that
/// doubles as it grows copies everything it holds at each step and asks the allocator for fresh
/// memory each time; with 1M values per group that was most of the aggregate's time.
#[derive(Debug, Default)]
struct Values {
    blocks: Vec<Float64Array>,
    open: Vec<f64>,
    len: usize,
}

impl Values {
    fn push(&mut self, value: f64) {
        if self.open.len() == BLOCK {
            self.seal();
        }
        self.open.push(value);
        self.len += 1;
    }

    /// Keeps the full open block as it is and opens a new one.
    fn seal(&mut self) {
        let full = std::mem::replace(&mut self.open, Vec::with_capacity(BLOCK));
        self.blocks.push(Float64Array::from(full));
    }

    fn extend(&mut self, mut values: &[f64]) {
        while !values.is_empty() {
            if self.open.len() == BLOCK {
                self.seal();
            }
            let (now, rest) = values.split_at(values.len().min(BLOCK - self.open.len()));
            self.open.extend_from_slice(now);
            self.len += now.len();
            values = rest;
        }
    }

    /// Adds an array's non-null values, sharing its buffer when it has no nulls and is not a
    /// small slice of a larger allocation (which sharing would keep alive, unaccounted).
    fn add(&mut self, values: &Float64Array) {
        let bytes = values.len() * size_of::<f64>();
        if values.null_count() > 0 {
            values.iter().flatten().for_each(|v| self.push(v));
        } else if values.len() < SHARE_FROM || values.values().inner().capacity() > 2 * bytes {
            self.extend(values.values());
        } else {
            self.len += values.len();
            self.blocks.push(values.clone());
        }
    }

    /// Appends every value to `out`.
    fn copy_into(&self, out: &mut Vec<f64>) {
        for block in &self.blocks {
            out.extend_from_slice(block.values());
        }
        out.extend_from_slice(&self.open);
    }

    /// Every value in one vector of exactly the right size.
    fn gather(self) -> Vec<f64> {
        let mut all = Vec::with_capacity(self.len);
        self.copy_into(&mut all);
        all
    }
}

/// The item field of the `List` state, as DataFusion's `state_fields` declares it.
fn list_field() -> FieldRef {
    Arc::new(Field::new_list_field(DataType::Float64, true))
}

/// The state of groups as DataFusion's accumulator writes it: per group, a list of its values.
/// More than `i32::MAX` values in one state cannot be a `List` (DataFusion's state schema); that
/// is an error, not a wrapped offset.
fn list_state(groups: Vec<Values>) -> Result<ListArray> {
    let total: usize = groups.iter().map(|g| g.len).sum();
    let mut values = Vec::with_capacity(total);
    let mut offsets = Vec::with_capacity(groups.len() + 1);
    offsets.push(0i32);
    for group in groups {
        group.copy_into(&mut values);
        offsets.push(i32::try_from(values.len()).map_err(|_| {
            DataFusionError::ResourcesExhausted(format!(
                "percentile_cont: more than {} values in one partial state",
                i32::MAX
            ))
        })?);
    }
    Ok(ListArray::new(
        list_field(),
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        Arc::new(PrimitiveArray::<Float64Type>::new(ScalarBuffer::from(values), None)),
        None,
    ))
}

/// The accumulator without `GROUP BY`.
#[derive(Debug)]
struct ChunkedPercentile {
    percentile: f64,
    values: Values,
}

impl ChunkedPercentile {
    fn new(percentile: f64) -> Self {
        Self { percentile, values: Values::default() }
    }
}

impl Accumulator for ChunkedPercentile {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.values.add(values[0].as_primitive::<Float64Type>());
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for i in 0..lists.len() {
            if lists.is_valid(i) {
                self.values.add(lists.value(i).as_primitive::<Float64Type>());
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let state = list_state(vec![std::mem::take(&mut self.values)])?;
        Ok(vec![ScalarValue::List(Arc::new(state))])
    }

    /// Window frames that only grow call this after every row, so the gathered values stay as
    /// one block and the next call copies them once more, not the history of blocks.
    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut all = std::mem::take(&mut self.values).gather();
        let value = percentile_of(&mut all, self.percentile);
        self.values.add(&Float64Array::from(all));
        Ok(ScalarValue::Float64(value))
    }

    fn size(&self) -> usize {
        size_of::<Self>()
            + self.values.len * size_of::<f64>()
            + self.values.blocks.capacity() * size_of::<Float64Array>()
    }
}

/// The accumulator per group; the percentile itself is [`percentile_of`].
#[derive(Debug)]
struct GroupedPercentile {
    percentile: f64,
    groups: Vec<Values>,
    /// Values held over all groups, so `size` (called per batch) does not visit every group.
    stored: usize,
}

impl GroupedPercentile {
    fn new(percentile: f64) -> Self {
        Self { percentile, groups: Vec::new(), stored: 0 }
    }

    fn take(&mut self, emit_to: EmitTo) -> Vec<Values> {
        let taken = emit_to.take_needed(&mut self.groups);
        self.stored -= taken.iter().map(|g| g.len).sum::<usize>();
        taken
    }
}

impl GroupsAccumulator for GroupedPercentile {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let values = values[0].as_primitive::<Float64Type>();
        self.groups.resize_with(total_num_groups, Values::default);
        let (groups, stored) = (&mut self.groups, &mut self.stored);
        accumulate(group_indices, values, opt_filter, |group, value| {
            groups[group].push(value);
            *stored += 1;
        });
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let lists = values[0].as_list::<i32>();
        self.groups.resize_with(total_num_groups, Values::default);
        for (row, &group) in group_indices.iter().enumerate() {
            if lists.is_valid(row) {
                let list = lists.value(row);
                let target = &mut self.groups[group];
                let before = target.len;
                target.add(list.as_primitive::<Float64Type>());
                self.stored += target.len - before;
            }
        }
        Ok(())
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![Arc::new(list_state(self.take(emit_to))?)])
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let result: Float64Array = self
            .take(emit_to)
            .into_iter()
            .map(|values| percentile_of(&mut values.gather(), self.percentile))
            .collect();
        Ok(Arc::new(result))
    }

    /// Each row as its own group (DataFusion skips the partial step when it does not reduce the
    /// rows): a one-value list, or null for a null or filtered-out value.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let values = values[0].as_primitive::<Float64Type>();
        let list = ListArray::new(
            list_field(),
            OffsetBuffer::from_lengths(std::iter::repeat_n(1, values.len())),
            Arc::new(PrimitiveArray::<Float64Type>::new(values.values().clone(), None)),
            filtered_null_mask(opt_filter, values),
        );
        Ok(vec![Arc::new(list)])
    }

    /// The values held plus the per-group bookkeeping. Not counted: the unused tail of each
    /// group's open block (under 2× for a group smaller than a block, under 64 KiB above).
    fn size(&self) -> usize {
        size_of::<Self>() + self.groups.capacity() * size_of::<Values>() + self.stored * size_of::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{BooleanArray, Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::Schema;
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

    /// A whole array is kept as it came; a small slice of a large one is copied, so the large
    /// one is not kept alive by a few values; either way every value is there.
    #[test]
    fn values_share_whole_arrays_and_copy_small_slices() {
        let big = Float64Array::from_iter_values((0..100_000).map(f64::from));
        let mut shared = Values::default();
        shared.add(&big);
        assert_eq!((shared.blocks.len(), shared.open.len(), shared.len), (1, 0, 100_000));
        let mut copied = Values::default();
        copied.add(&big.slice(10, 20_000));
        assert!(copied.blocks.len() == 2 && copied.open.len() == 20_000 - 2 * BLOCK);
        let all = copied.gather();
        assert_eq!(all, (10..20_010).map(f64::from).collect::<Vec<_>>());
    }

    /// Emitting the first groups (DataFusion does under memory pressure) takes their values out,
    /// leaves the rest in place and keeps the size bookkeeping in step.
    #[test]
    fn emitting_the_first_groups_keeps_the_rest_and_the_size() {
        let mut acc = GroupedPercentile::new(0.5);
        let empty = acc.size();
        let values: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 10.0, 2.0, 20.0, 30.0, 3.0]));
        acc.update_batch(&[values], &[0, 1, 0, 1, 2, 0], None, 3).unwrap();
        let bookkeeping = acc.groups.capacity() * size_of::<Values>();
        assert_eq!(acc.size(), empty + bookkeeping + 6 * size_of::<f64>());
        let first = acc.state(EmitTo::First(1)).unwrap();
        let first = first[0].as_list::<i32>();
        assert_eq!(first.len(), 1);
        assert_eq!(first.value(0).as_primitive::<Float64Type>().values().as_ref(), &[1.0, 2.0, 3.0]);
        assert_eq!(acc.stored, 3);
        let rest = acc.evaluate(EmitTo::All).unwrap();
        assert_eq!(rest.as_primitive::<Float64Type>().values().as_ref(), &[15.0, 30.0]);
        assert_eq!(acc.stored, 0);
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
