//! Checks not tied to one service: a number in a range or a list, the shape of an AWS type
//! name or identifier, worded once so a mistake reads the same wherever it is made; and the
//! daily and weekly windows AWS takes, which it refuses to let overlap.

use std::fmt::Display;

use crate::config::ConfigError;

/// Generic because the same limit message serves i32 sizes, i64 ages and u64 timeouts.
pub(super) fn range<T: Copy + Display + PartialOrd>(
    field: String,
    value: T,
    min: T,
    max: T,
) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("{value} is out of range; use {min} to {max}"),
        ))
    }
}

pub(super) fn one_of(
    field: String,
    value: i32,
    allowed: &[i32],
    why: &str,
) -> Result<(), ConfigError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
        Err(ConfigError::new(
            field,
            format!(
                "{value} is not allowed ({why}); use one of {}",
                list.join(", ")
            ),
        ))
    }
}

pub(super) fn prefixed(
    field: String,
    value: &str,
    prefix: &str,
    example: &str,
) -> Result<(), ConfigError> {
    let shaped = value.strip_prefix(prefix).is_some_and(|rest| {
        rest.split('.').count() == 2
            && rest.split('.').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
    });
    if shaped {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("{value:?} is not an instance type; use one like {example}"),
        ))
    }
}

pub(super) fn identifier(field: String, value: &str, max: usize) -> Result<(), ConfigError> {
    let ok = value.len() <= max
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!(
                "{value:?}: start with a letter, then letters, digits or _, at most {max} characters"
            ),
        ))
    }
}

/// `16` for both `16` and `16.8`; 0 when it is not a number.
pub(super) fn major_version(v: &str) -> u32 {
    v.split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

pub(super) fn is_version(v: &str) -> bool {
    !v.is_empty()
        && v.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY: u32 = 24 * 60;
const WEEK: u32 = 7 * DAY;

/// The window from `start` to `end` on a cycle of `period` minutes as (start, length); AWS
/// takes none shorter than 30 minutes.
fn span(
    field: &str,
    text: &str,
    (start, end): (u32, u32),
    period: u32,
) -> Result<(u32, u32), ConfigError> {
    let length = (end + period - start) % period;
    if length < 30 {
        return Err(ConfigError::new(
            field,
            format!("{text} is shorter than the 30 minutes AWS requires"),
        ));
    }
    Ok((start, length))
}

/// Whether two windows, (start, length) on a cycle of `period` minutes, share a minute.
fn share_a_minute(a: (u32, u32), b: (u32, u32), period: u32) -> bool {
    (b.0 + period - a.0) % period < a.1 || (a.0 + period - b.0) % period < b.1
}

/// `hh:mi` → minutes since midnight.
fn clock(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && text.len() == 5).then_some(h * 60 + m)
}

/// A daily window `hh24:mi-hh24:mi` of at least 30 minutes, as (start, length) in minutes.
pub(super) fn daily_window(field: &str, text: &str) -> Result<(u32, u32), ConfigError> {
    let parsed = text
        .split_once('-')
        .and_then(|(a, b)| Some((clock(a)?, clock(b)?)));
    let Some((start, end)) = parsed else {
        return Err(ConfigError::new(
            field,
            format!(
                "{text:?} is not a window; write it as hh24:mi-hh24:mi in UTC, like 03:00-04:00"
            ),
        ));
    };
    span(field, text, (start, end), DAY)
}

/// A weekly window `ddd:hh24:mi-ddd:hh24:mi` of at least 30 minutes, as minutes of the week.
pub(super) fn weekly_window(field: &str, text: &str) -> Result<(u32, u32), ConfigError> {
    let point = |p: &str| -> Option<u32> {
        let (day, time) = p.split_once(':')?;
        let d = DAYS.iter().position(|x| *x == day.to_ascii_lowercase())? as u32;
        Some(d * 24 * 60 + clock(time)?)
    };
    let parsed = text
        .split_once('-')
        .and_then(|(a, b)| Some((point(a)?, point(b)?)));
    let Some((start, end)) = parsed else {
        return Err(ConfigError::new(
            field,
            format!(
                "{text:?} is not a window; write it as ddd:hh24:mi-ddd:hh24:mi in UTC, like sun:05:00-sun:06:00"
            ),
        ));
    };
    span(field, text, (start, end), WEEK)
}

/// AWS refuses a maintenance window that overlaps the daily backup/snapshot window.
pub(super) fn no_overlap(
    field: &str,
    daily: (u32, u32),
    weekly: (u32, u32),
) -> Result<(), ConfigError> {
    for day in 0..7 {
        if share_a_minute((day * DAY + daily.0, daily.1), weekly, WEEK) {
            return Err(ConfigError::new(
                field,
                "overlaps the daily backup/snapshot window; move one of them",
            ));
        }
    }
    Ok(())
}

/// Whether two daily windows, (start, length) in minutes of the day, share a minute.
pub(super) fn overlaps_daily(a: (u32, u32), b: (u32, u32)) -> bool {
    share_a_minute(a, b, DAY)
}
