use super::*;

#[test]
fn jql_dates_are_in_the_accounts_zone_and_never_panic() {
    let t = DateTime::parse_from_rfc3339("2026-11-23T10:07:30Z")
        .unwrap()
        .with_timezone(&Utc);
    let five = Duration::minutes(5);
    assert_eq!(jql_date(t, five, chrono_tz::UTC), "2026-11-23 10:02");
    assert_eq!(
        jql_date(t, five, chrono_tz::America::Los_Angeles),
        "2026-11-23 02:02"
    );
    assert_eq!(
        jql_date(t, five, chrono_tz::Asia::Kolkata),
        "2026-11-23 15:32"
    );
    // A damaged watermark reads everything again rather than panicking.
    assert_eq!(
        jql_date(DateTime::<Utc>::MIN_UTC, five, chrono_tz::UTC),
        "1970-01-01 00:00"
    );
    assert_eq!(
        jql_date(DateTime::<Utc>::MAX_UTC, Duration::zero(), chrono_tz::UTC).len(),
        16
    );
}
