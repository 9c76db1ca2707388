//! JQL date formatting: any instant, any look-back and any zone give `YYYY-MM-DD HH:MM`.
#![no_main]

use chrono::{DateTime, Duration, Utc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (i64, i32, i64, u16)| {
    let (secs, nanos, back, zone) = input;
    let Some(t) = DateTime::<Utc>::from_timestamp(secs, nanos.unsigned_abs() % 1_000_000_000)
    else {
        return;
    };
    let back = Duration::try_seconds(back).unwrap_or(Duration::zero());
    let zones = chrono_tz::TZ_VARIANTS;
    let zone = zones[zone as usize % zones.len()];
    let s = jira_sync_engine::jql_date(t, back, zone);
    let b = s.as_bytes();
    assert_eq!(b.len(), 16, "{s}");
    assert!(
        b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 => *c == b':',
            _ => c.is_ascii_digit(),
        }),
        "{s}"
    );
});
