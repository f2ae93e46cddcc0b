//! Where a `percentile_cont` group keeps its values: blocks that are never copied again, and the
//! `List` state DataFusion's state schema declares.

use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{Array, Float64Array, ListArray, PrimitiveArray};
use datafusion::arrow::buffer::{OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::error::{DataFusionError, Result};

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
pub(super) struct Values {
    blocks: Vec<Float64Array>,
    open: Vec<f64>,
    len: usize,
}

impl Values {
    pub(super) fn push(&mut self, value: f64) {
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

    pub(super) fn extend(&mut self, mut values: &[f64]) {
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
    pub(super) fn add(&mut self, values: &Float64Array) {
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

    /// How many values are held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Bytes of the values held and of the block handles.
    pub(super) fn size(&self) -> usize {
        self.len * size_of::<f64>() + self.blocks.capacity() * size_of::<Float64Array>()
    }

    /// Appends every value to `out`.
    fn copy_into(&self, out: &mut Vec<f64>) {
        for block in &self.blocks {
            out.extend_from_slice(block.values());
        }
        out.extend_from_slice(&self.open);
    }

    /// Every value in one vector of exactly the right size.
    pub(super) fn gather(self) -> Vec<f64> {
        let mut all = Vec::with_capacity(self.len);
        self.copy_into(&mut all);
        all
    }
}

/// The item field of the `List` state, as DataFusion's `state_fields` declares it.
pub(super) fn list_field() -> FieldRef {
    Arc::new(Field::new_list_field(DataType::Float64, true))
}

/// The state of groups as DataFusion's accumulator writes it: per group, a list of its values.
/// More than `i32::MAX` values in one state cannot be a `List` (DataFusion's state schema); that
/// is an error, not a wrapped offset.
pub(super) fn list_state(groups: Vec<Values>) -> Result<ListArray> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
