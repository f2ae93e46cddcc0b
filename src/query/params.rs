//! Parameter values as the command line gives them: typed, times in the report's zone, relative
//! forms (`-30d` from local midnight, `-12h` exact), and the check that a window is not empty.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use datafusion::scalar::ScalarValue;

use crate::error::{Error, Result};

/// Parameter types a header may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Int,
    Float,
    Bool,
    Date,
    Timestamp,
}

/// A window whose start is not before its end selects nothing: refuse it rather than print an
/// empty report that looks like "nothing happened".
pub(crate) fn check_window(values: &HashMap<String, ScalarValue>) -> Result<()> {
    let (Some(from), Some(to)) = (values.get("from"), values.get("to")) else {
        return Ok(());
    };
    if from.data_type() == to.data_type() && !from.is_null() && from >= to {
        return Err(Error::Parameter {
            name: "from".into(),
            message: format!(
                "the window is empty: from {} is not before to {} (swap --from and --to?)",
                show_instant(from),
                show_instant(to)
            ),
        });
    }
    Ok(())
}

/// A bound time parameter as a person reads it.
fn show_instant(v: &ScalarValue) -> String {
    match v {
        ScalarValue::TimestampMicrosecond(Some(us), _) => DateTime::from_timestamp_micros(*us)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            .unwrap_or_else(|| v.to_string()),
        ScalarValue::Date32(Some(d)) => crate::util::from_date32(*d).to_string(),
        _ => v.to_string(),
    }
}

/// Parses a parameter value. Timestamps accept RFC 3339, a date (midnight in `tz`), `now`,
/// `today`, and relative forms: `-7d` and `-2w` are calendar days back from today, starting at
/// local midnight in `tz` (so the first day of a day-bucketed report is a whole day), `-12h` and
/// `-30m` are exact durations back from now.
pub(crate) fn parse_value(
    ty: ParamType,
    text: &str,
    tz: &chrono_tz::Tz,
    now: DateTime<Utc>,
) -> std::result::Result<ScalarValue, String> {
    let t = text.trim();
    match ty {
        ParamType::String => Ok(ScalarValue::Utf8(Some(t.to_string()))),
        ParamType::Int => t
            .parse::<i64>()
            .map(|v| ScalarValue::Int64(Some(v)))
            .map_err(|_| format!("{t:?} is not an integer")),
        ParamType::Float => t
            .parse::<f64>()
            .map(|v| ScalarValue::Float64(Some(v)))
            .map_err(|_| format!("{t:?} is not a number")),
        ParamType::Bool => match t.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(ScalarValue::Boolean(Some(true))),
            "false" | "no" | "0" => Ok(ScalarValue::Boolean(Some(false))),
            _ => Err(format!("{t:?} is not true or false")),
        },
        ParamType::Date => parse_date(t, tz, now).map(|d| ScalarValue::Date32(Some(crate::util::date32(d)))),
        ParamType::Timestamp => parse_time(t, tz, now)
            .map(|i| ScalarValue::TimestampMicrosecond(Some(i.timestamp_micros()), Some("UTC".into()))),
    }
}

fn parse_relative(t: &str) -> Option<Duration> {
    let body = t.strip_prefix('-')?;
    let (num, unit) = body.split_at(body.len().checked_sub(1)?);
    let n: i64 = num.parse().ok()?;
    match unit {
        "d" => Some(Duration::days(n)),
        "h" => Some(Duration::hours(n)),
        "m" => Some(Duration::minutes(n)),
        "w" => Some(Duration::weeks(n)),
        _ => None,
    }
}

fn parse_date(t: &str, tz: &chrono_tz::Tz, now: DateTime<Utc>) -> std::result::Result<NaiveDate, String> {
    if t == "today" {
        return Ok(now.with_timezone(tz).date_naive());
    }
    if let Some(d) = parse_relative(t) {
        return Ok((now - d).with_timezone(tz).date_naive());
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .map_err(|_| format!("{t:?} is not a date (YYYY-MM-DD, today, -7d)"))
}

/// Parses a time as `--from`/`--to` take it (see [`parse_value`]).
pub(crate) fn parse_time(
    t: &str,
    tz: &chrono_tz::Tz,
    now: DateTime<Utc>,
) -> std::result::Result<DateTime<Utc>, String> {
    if t == "now" {
        return Ok(now);
    }
    if let Some(d) = parse_relative(t) {
        if is_whole_days(t) {
            // Calendar days: a report bucketed by day starts on a whole local day.
            let day = now.with_timezone(tz).date_naive() - Duration::days(d.num_days());
            return local_midnight(day, tz).ok_or_else(|| format!("{t:?} has no midnight in {tz}"));
        }
        return Ok(now - d);
    }
    if let Some(i) = crate::util::parse_instant(t) {
        return Ok(i);
    }
    let day = if t == "today" { Some(now.with_timezone(tz).date_naive()) } else { None };
    if let Some(d) = day.or_else(|| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()) {
        return local_midnight(d, tz).ok_or_else(|| format!("{t:?} has no midnight in {tz}"));
    }
    Err(format!("{t:?} is not a date-time (RFC 3339, YYYY-MM-DD, today, now, -7d, -12h)"))
}

/// `-7d`, `-2w`: relative values counted in calendar days.
fn is_whole_days(t: &str) -> bool {
    t.ends_with('d') || t.ends_with('w')
}

/// The first instant of a local day; a midnight that does not exist (DST gap) moves to the first
/// instant after it.
fn local_midnight(d: NaiveDate, tz: &chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let midnight = d.and_hms_opt(0, 0, 0)?;
    tz.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(midnight + Duration::hours(1))).earliest())
        .map(|l| l.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::saved::SavedQuery;
    use std::collections::BTreeMap;

    fn instant(v: ScalarValue) -> String {
        let ScalarValue::TimestampMicrosecond(Some(us), _) = v else { panic!("{v:?}") };
        DateTime::from_timestamp_micros(us).unwrap().to_rfc3339()
    }

    /// Issue 19 item 2: `-30d` starts on a whole local day, so the first day of a daily report is
    /// not a few hours shown as a day; hours and minutes stay exact.
    #[test]
    fn relative_days_start_at_local_midnight_and_hours_are_exact() {
        let tz: chrono_tz::Tz = "Europe/Brussels".parse().unwrap();
        let now = DateTime::parse_from_rfc3339("2026-11-30T15:42:10Z").unwrap().with_timezone(&Utc);
        let v = |t: &str| instant(parse_value(ParamType::Timestamp, t, &tz, now).unwrap());
        assert_eq!(v("-30d"), "2026-10-30T23:00:00+00:00", "midnight of 31 Oct in Brussels");
        assert_eq!(v("-1w"), "2026-11-22T23:00:00+00:00");
        assert_eq!(v("today"), "2026-11-29T23:00:00+00:00");
        assert_eq!(v("-12h"), "2026-11-30T03:42:10+00:00");
        assert_eq!(v("-30m"), "2026-11-30T15:12:10+00:00");
        let utc = chrono_tz::UTC;
        assert_eq!(
            instant(parse_value(ParamType::Timestamp, "-1d", &utc, now).unwrap()),
            "2026-11-29T00:00:00+00:00"
        );
    }

    #[test]
    fn an_empty_window_is_refused_naming_both_ends() {
        let q = SavedQuery::parse(
            "t",
            "-- name: t\n-- title: T\n-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31\nSELECT 1",
        )
        .unwrap();
        let given: BTreeMap<String, String> =
            [("from".to_string(), "2026-11-14".to_string()), ("to".to_string(), "2026-11-01".to_string())]
                .into();
        let e = q.bind(&given, &chrono_tz::UTC).unwrap_err().to_string();
        assert!(e.contains("2026-11-14T00:00:00Z") && e.contains("2026-11-01T00:00:00Z"), "{e}");
        let same: BTreeMap<String, String> =
            [("from".to_string(), "2026-11-14".to_string()), ("to".to_string(), "2026-11-14".to_string())]
                .into();
        assert!(q.bind(&same, &chrono_tz::UTC).is_err());
        let fine: BTreeMap<String, String> = [("from".to_string(), "2026-11-01".to_string())].into();
        assert!(q.bind(&fine, &chrono_tz::UTC).is_ok());
    }

    #[test]
    fn dates_are_local_midnight_across_dst() {
        let tz: chrono_tz::Tz = "Europe/Brussels".parse().unwrap();
        let now = Utc::now();
        let ScalarValue::TimestampMicrosecond(Some(summer), _) =
            parse_value(ParamType::Timestamp, "2026-07-01", &tz, now).unwrap()
        else {
            panic!()
        };
        let ScalarValue::TimestampMicrosecond(Some(winter), _) =
            parse_value(ParamType::Timestamp, "2026-12-01", &tz, now).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            DateTime::from_timestamp_micros(summer).unwrap().to_rfc3339(),
            "2026-06-30T22:00:00+00:00"
        );
        assert_eq!(
            DateTime::from_timestamp_micros(winter).unwrap().to_rfc3339(),
            "2026-11-30T23:00:00+00:00"
        );
        assert!(parse_value(ParamType::Timestamp, "soon", &tz, now).is_err());
    }
}
