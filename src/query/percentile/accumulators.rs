//! The accumulators for a `DOUBLE` input with a literal percentile: without `GROUP BY`, and per
//! group.

use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, ListArray, PrimitiveArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::Float64Type;
use datafusion::error::Result;
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};
use datafusion::scalar::ScalarValue;
use datafusion_functions_aggregate_common::aggregate::groups_accumulator::accumulate::accumulate;
use datafusion_functions_aggregate_common::aggregate::groups_accumulator::nulls::filtered_null_mask;

use super::percentile_of;
use super::values::{Values, list_field, list_state};

/// The accumulator without `GROUP BY`.
#[derive(Debug)]
pub(super) struct ChunkedPercentile {
    percentile: f64,
    values: Values,
}

impl ChunkedPercentile {
    pub(super) fn new(percentile: f64) -> Self {
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
        size_of::<Self>() + self.values.size()
    }
}

/// The accumulator per group; the percentile itself is [`percentile_of`].
#[derive(Debug)]
pub(super) struct GroupedPercentile {
    percentile: f64,
    groups: Vec<Values>,
    /// Values held over all groups, so `size` (called per batch) does not visit every group.
    stored: usize,
}

impl GroupedPercentile {
    pub(super) fn new(percentile: f64) -> Self {
        Self { percentile, groups: Vec::new(), stored: 0 }
    }

    fn take(&mut self, emit_to: EmitTo) -> Vec<Values> {
        let taken = emit_to.take_needed(&mut self.groups);
        self.stored -= taken.iter().map(Values::len).sum::<usize>();
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
                let before = target.len();
                target.add(list.as_primitive::<Float64Type>());
                self.stored += target.len() - before;
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
}
