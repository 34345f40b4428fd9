//! openTRANS 2.1 documents (contract sections 8 and 9): the partner's XML read as a stream
//! (`crate::xml`), matched by local element names, so the `bmecat:` prefix or another
//! namespace binding changes nothing.

pub mod dispatch;
pub mod order;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// openTRANS `dtDATETIME`: RFC 3339; without an offset it is read as UTC; a date alone is
/// its midnight (UTC).
pub fn datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(at) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(at.and_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
}

/// The calendar day a `dtDATETIME` names, in its own offset (a delivery "on 25 May" stays
/// the 25th whatever the zone).
pub fn date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.date_naive());
    }
    text.get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_with_and_without_offsets_and_dates() {
        assert_eq!(
            datetime("2009-05-13T06:20:00+01:00").unwrap().to_rfc3339(),
            "2009-05-13T05:20:00+00:00"
        );
        assert_eq!(
            datetime("2009-05-13T06:20:00").unwrap().to_rfc3339(),
            "2009-05-13T06:20:00+00:00"
        );
        assert_eq!(
            datetime("2009-05-13").unwrap().to_rfc3339(),
            "2009-05-13T00:00:00+00:00"
        );
        assert!(datetime("13.05.2009").is_none());
        assert_eq!(
            date("2009-05-25T23:30:00-05:00").unwrap().to_string(),
            "2009-05-25"
        );
        assert_eq!(date("2009-05-25").unwrap().to_string(), "2009-05-25");
    }
}
