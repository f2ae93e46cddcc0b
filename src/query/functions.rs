//! The few SQL functions our queries need that DataFusion does not have (see `queries/README.md`
//! for their portable equivalents): `epoch_seconds`, and `local_date` / `local_hour` /
//! `local_weekday` of an instant in an IANA zone, with the zone's offset cached per hour.

use std::sync::Arc;

use chrono::TimeZone;
use datafusion::arrow::array::{Array, ArrayRef, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::scalar::ScalarValue;

/// `local_date(ts, tz)`: the calendar date of a UTC instant in an IANA time zone (DST-safe).
/// DataFusion-only; Spark's equivalent is `to_date(from_utc_timestamp(ts, tz))`.
/// `epoch_seconds(ts)`: seconds since 1970-01-01 UTC as a DOUBLE (sub-second part kept), for any
/// timestamp type. The one portable way to subtract instants: Spark spells it
/// `unix_micros(ts) / 1e6`, DataFusion `date_part('epoch', ts)`, and neither accepts the other's.
pub(crate) fn epoch_seconds_udf() -> datafusion::logical_expr::ScalarUDF {
    datafusion::logical_expr::ScalarUDF::new_from_impl(EpochSeconds::default())
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct EpochSeconds {
    signature: datafusion::logical_expr::Signature,
}

impl Default for EpochSeconds {
    fn default() -> Self {
        let ts = |unit, tz: Option<&str>| DataType::Timestamp(unit, tz.map(Into::into));
        Self {
            signature: datafusion::logical_expr::Signature::uniform(
                1,
                vec![
                    ts(TimeUnit::Microsecond, Some("UTC")),
                    ts(TimeUnit::Microsecond, None),
                    ts(TimeUnit::Nanosecond, None),
                    ts(TimeUnit::Nanosecond, Some("UTC")),
                    ts(TimeUnit::Millisecond, None),
                    ts(TimeUnit::Second, None),
                ],
                Volatility::Immutable,
            ),
        }
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for EpochSeconds {
    fn name(&self) -> &str {
        "epoch_seconds"
    }
    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let micros_type = DataType::Timestamp(TimeUnit::Microsecond, None);
        let arr = args.args[0].to_array(args.number_rows)?;
        let arr = datafusion::arrow::compute::cast(&arr, &micros_type)?;
        let ts = arr.as_any().downcast_ref::<TimestampMicrosecondArray>().ok_or_else(|| {
            datafusion::error::DataFusionError::Execution("epoch_seconds expects a timestamp".into())
        })?;
        let out: datafusion::arrow::array::Float64Array =
            ts.iter().map(|v| v.map(|m| m as f64 / 1e6)).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

pub(crate) fn local_date_udf() -> datafusion::logical_expr::ScalarUDF {
    local_part_udf("local_date", DataType::Date32, |local| {
        i32::try_from(local.div_euclid(LocalDays::DAY)).ok()
    })
}

/// `local_hour(ts, tz)`: the hour of the day (0–23) of a UTC instant on the wall clock of an IANA
/// time zone. Spark's equivalent is `hour(from_utc_timestamp(ts, tz))`.
pub(crate) fn local_hour_udf() -> datafusion::logical_expr::ScalarUDF {
    local_part_udf("local_hour", DataType::Int32, |local| Some(hour_of(local)))
}

/// `local_weekday(ts, tz)`: the ISO day of the week (1 Monday … 7 Sunday) of a UTC instant in an
/// IANA time zone. Spark's equivalent is `weekday(from_utc_timestamp(ts, tz)) + 1`; DataFusion's
/// own `date_part('dow', …)` counts from Sunday = 0, which is why this is a function of ours.
pub(crate) fn local_weekday_udf() -> datafusion::logical_expr::ScalarUDF {
    local_part_udf("local_weekday", DataType::Int32, |local| Some(weekday_of(local)))
}

/// The hour (0–23) of local microseconds since 1970-01-01.
fn hour_of(local: i64) -> i32 {
    (local.rem_euclid(LocalDays::DAY) / LocalDays::HOUR) as i32
}

/// The ISO weekday (1 Monday … 7 Sunday) of local microseconds since 1970-01-01, a Thursday.
fn weekday_of(local: i64) -> i32 {
    (local.div_euclid(LocalDays::DAY) + 3).rem_euclid(7) as i32 + 1
}

/// A function `name(ts, tz)` of the wall-clock time of a UTC instant in a constant IANA zone:
/// `part` maps local microseconds since 1970-01-01 to the result (an `Int32`, or the days of a
/// `Date32`).
fn local_part_udf(
    name: &'static str,
    out: DataType,
    part: fn(i64) -> Option<i32>,
) -> datafusion::logical_expr::ScalarUDF {
    let out_type = out.clone();
    create_udf(
        name,
        vec![DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), DataType::Utf8],
        out,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let tz_name = match &args[1] {
                ColumnarValue::Scalar(
                    ScalarValue::Utf8(Some(s))
                    | ScalarValue::Utf8View(Some(s))
                    | ScalarValue::LargeUtf8(Some(s)),
                ) => s.clone(),
                _ => {
                    return datafusion::common::exec_err!("{name}: the time zone must be a constant string");
                }
            };
            let tz: chrono_tz::Tz = tz_name.parse().map_err(|_| {
                datafusion::error::DataFusionError::Execution(format!("unknown time zone {tz_name:?}"))
            })?;
            let clock = LocalDays::new(tz);
            let of = |m: i64| clock.local(m).and_then(part);
            match &args[0] {
                ColumnarValue::Array(a) => {
                    let ts = a.as_any().downcast_ref::<TimestampMicrosecondArray>().ok_or_else(|| {
                        datafusion::error::DataFusionError::Execution(format!("{name} expects a timestamp"))
                    })?;
                    // Nulls stay null; an instant out of chrono's range (none in practice) too.
                    let out: ArrayRef = if out_type == DataType::Date32 {
                        Arc::new(ts.unary_opt::<_, datafusion::arrow::datatypes::Date32Type>(of))
                    } else {
                        Arc::new(ts.unary_opt::<_, datafusion::arrow::datatypes::Int32Type>(of))
                    };
                    Ok(ColumnarValue::Array(out))
                }
                ColumnarValue::Scalar(ScalarValue::TimestampMicrosecond(v, _)) => {
                    let v = v.and_then(of);
                    Ok(ColumnarValue::Scalar(if out_type == DataType::Date32 {
                        ScalarValue::Date32(v)
                    } else {
                        ScalarValue::Int32(v)
                    }))
                }
                other => {
                    datafusion::common::exec_err!("{name} expects a timestamp, got {}", other.data_type())
                }
            }
        }),
    )
}

/// The local calendar day (days since 1970-01-01) of UTC instants in one time zone. The zone's
/// offset is looked up once per UTC hour and remembered while the instants stay in that hour
/// (rows come sorted by time): an hour whose first and last microsecond have the same offset has
/// no transition inside it in any real zone; one that straddles a transition is looked up per
/// instant.
struct LocalDays {
    tz: chrono_tz::Tz,
    /// The UTC hour `[start, end)` whose offset is known and that offset, in µs (empty at
    /// first). A `Cell` so that arrow's `unary_opt`, which takes a `Fn`, can update it.
    known: std::cell::Cell<(i64, i64, i64)>,
}

impl LocalDays {
    const HOUR: i64 = 3_600_000_000;
    const DAY: i64 = 86_400_000_000;

    fn new(tz: chrono_tz::Tz) -> Self {
        Self { tz, known: std::cell::Cell::new((0, 0, 0)) }
    }

    fn offset(&self, micros: i64) -> Option<i64> {
        use chrono::Offset;
        let utc = chrono::Utc.timestamp_micros(micros).single()?;
        let offset = self.tz.offset_from_utc_datetime(&utc.naive_utc()).fix().local_minus_utc();
        Some(i64::from(offset) * 1_000_000)
    }

    #[cfg(test)]
    fn of(&self, micros: i64) -> Option<i32> {
        i32::try_from(self.local(micros)?.div_euclid(Self::DAY)).ok()
    }

    /// The wall-clock time in the zone, as microseconds since 1970-01-01 00:00 local.
    fn local(&self, micros: i64) -> Option<i64> {
        let (known_start, known_end, known_offset) = self.known.get();
        if (known_start..known_end).contains(&micros) {
            return Some(micros + known_offset);
        }
        let hour = micros.div_euclid(Self::HOUR);
        let start = hour.checked_mul(Self::HOUR);
        let end = start.and_then(|s| s.checked_add(Self::HOUR));
        let (first, last) = (start.and_then(|s| self.offset(s)), end.and_then(|e| self.offset(e - 1)));
        let offset = match (start, end, first) {
            (Some(start), Some(end), Some(o)) if first == last => {
                self.known.set((start, end, o));
                o
            }
            _ => self.offset(micros)?,
        };
        micros.checked_add(offset)
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Timelike};

    /// The hour-cached offset gives chrono's answer for every instant, across DST transitions,
    /// in zones with half- and quarter-hour offsets and a half-hour DST shift, and before 1970.
    #[test]
    fn local_days_agree_with_chrono_across_transitions() {
        let zones = ["UTC", "Europe/Brussels", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe"];
        for name in zones {
            let tz: chrono_tz::Tz = name.parse().unwrap();
            let days = LocalDays::new(tz);
            // Every 7 minutes 13 seconds through 2026 (both DST changes everywhere), then 1969.
            let step = (7 * 60 + 13) * 1_000_000_i64;
            let spans = [(1_767_225_600_000_000_i64, 1_798_761_600_000_000_i64), (-31_536_000_000_000, 0)];
            for (from, to) in spans {
                let mut m = from;
                while m < to {
                    let expected = chrono::Utc
                        .timestamp_micros(m)
                        .unwrap()
                        .with_timezone(&tz)
                        .date_naive()
                        .num_days_from_ce()
                        - 719_163;
                    assert_eq!(days.of(m), Some(expected), "{name} at {m} µs");
                    m += step;
                }
            }
            assert_eq!(days.of(i64::MAX), None, "{name}: out of chrono's range is null");
            // The wall clock's hour and ISO weekday, as local_hour and local_weekday give them.
            let mut m = 1_767_225_600_000_000_i64;
            while m < 1_798_761_600_000_000 {
                let want = chrono::Utc.timestamp_micros(m).unwrap().with_timezone(&tz);
                let local = days.local(m).unwrap();
                assert_eq!(hour_of(local), want.hour() as i32, "{name} at {m}");
                assert_eq!(weekday_of(local), want.weekday().number_from_monday() as i32, "{name} at {m}");
                m += 37 * 60 * 1_000_000 + 11;
            }
        }
    }
}
