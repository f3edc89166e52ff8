//! Sort keys: each custom-field value as text whose byte order is the
//! value's order, so one standing index (field key, sort key, record) serves
//! `=`, `!=`, `<`, `>`, "has option" and "is set" for every field type, and a
//! filter compares keys without reading the record.
//!
//! - Text, link, email, phone and option keys are themselves (text cut at
//!   [`MAX_TEXT_KEY_CHARS`], marked so a cut key never equals a whole one).
//! - Numbers, percents and amounts (the currency is not part of the key)
//!   are an order-preserving decimal encoding, exact at any scale.
//! - Dates are `YYYY-MM-DD`; instants `YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ` in UTC.
//! - Checkboxes are `0` and `1`; a multi-select has one key per option.

use rust_decimal::Decimal;
use time::{Date, OffsetDateTime, UtcOffset};

use super::FieldValue;

/// Longest text kept whole in a key, in characters; a filter's text value
/// may be at most this long.
pub const MAX_TEXT_KEY_CHARS: usize = 256;

/// Marks a text key cut short: above every character a text may end with,
/// so the cut key sorts after its prefix and never equals a filter value.
const CUT: char = '\u{10FFFF}';

/// The sort keys of one stored value (one per option of a multi-select).
pub fn sort_keys(value: &FieldValue) -> Vec<String> {
    match value {
        FieldValue::Text(text) => vec![text_key(text)],
        FieldValue::Link(text)
        | FieldValue::Email(text)
        | FieldValue::Phone(text)
        | FieldValue::Select(text) => vec![text.clone()],
        FieldValue::Number(number) | FieldValue::Percent(number) => vec![decimal_key(*number)],
        FieldValue::Currency(money) => vec![decimal_key(money.amount)],
        FieldValue::Date(date) => vec![date_key(*date)],
        FieldValue::DateTime(instant) => vec![instant_key(*instant)],
        FieldValue::Checkbox(checked) => vec![if *checked { "1" } else { "0" }.to_owned()],
        FieldValue::MultiSelect(keys) => keys.clone(),
    }
}

/// The key of a stored text.
pub fn text_key(text: &str) -> String {
    let mut chars = text.chars();
    let mut key: String = chars.by_ref().take(MAX_TEXT_KEY_CHARS).collect();
    if chars.next().is_some() {
        key.push(CUT);
    }
    key
}

/// An order-preserving text form of a decimal: `1` for zero; for a
/// positive number `2`, its decimal exponent plus 50 in two digits, and its
/// significant digits; for a negative one `0`, the exponent's complement,
/// the digits' nines' complement and `~` (so a longer negative, being
/// smaller, sorts first).
pub fn decimal_key(number: Decimal) -> String {
    if number.is_zero() {
        return "1".to_owned();
    }
    let text = number.abs().normalize().to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let digits = format!("{whole}{fraction}");
    let leading = digits.len() - digits.trim_start_matches('0').len();
    let significant = digits.trim_matches('0');
    // number = 0.<significant> x 10^exponent
    let exponent = i64::try_from(whole.len()).unwrap_or(0) - i64::try_from(leading).unwrap_or(0);
    if number.is_sign_positive() {
        format!("2{:02}{significant}", exponent + 50)
    } else {
        let complement: String = significant
            .bytes()
            .map(|digit| char::from(b'9' - digit + b'0'))
            .collect();
        format!("0{:02}{complement}~", 49 - exponent)
    }
}

/// `YYYY-MM-DD`.
pub fn date_key(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// `YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ`, in UTC.
pub fn instant_key(instant: OffsetDateTime) -> String {
    let utc = instant.to_offset(UtcOffset::UTC);
    format!(
        "{}T{:02}:{:02}:{:02}.{:09}Z",
        date_key(utc.date()),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.nanosecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn key(text: &str) -> String {
        decimal_key(Decimal::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}")))
    }

    #[test]
    fn decimal_keys_sort_as_their_numbers() {
        let numbers = [
            "-123456.789",
            "-1000",
            "-999.5",
            "-10",
            "-1.55",
            "-1.5",
            "-1",
            "-0.55",
            "-0.5",
            "-0.0001",
            "0",
            "0.0001",
            "0.00011",
            "0.5",
            "0.55",
            "1",
            "1.5",
            "1.55",
            "9.99",
            "10",
            "99",
            "100",
            "1000.25",
            "79228162514264337593543950335",
        ];
        let keys: Vec<String> = numbers.iter().map(|number| key(number)).collect();
        for pair in keys.windows(2) {
            assert!(pair[0] < pair[1], "{} !< {}", pair[0], pair[1]);
        }
        assert_eq!(
            key("10.50"),
            key("10.5"),
            "the scale is not part of the key"
        );
        assert_eq!(key("-0"), key("0"));
    }

    #[test]
    fn instants_and_dates_sort_as_time_and_long_texts_never_equal_a_short_one() {
        let early = OffsetDateTime::from_unix_timestamp(1_700_000_000)
            .unwrap_or_else(|e| panic!("{e}"))
            .to_offset(UtcOffset::from_hms(-3, 0, 0).unwrap_or_else(|e| panic!("{e}")));
        let later =
            OffsetDateTime::from_unix_timestamp(1_700_000_001).unwrap_or_else(|e| panic!("{e}"));
        assert!(instant_key(early) < instant_key(later));
        assert_eq!(instant_key(early), "2023-11-14T22:13:20.000000000Z");
        let long = "a".repeat(MAX_TEXT_KEY_CHARS + 1);
        let cut = text_key(&long);
        assert_ne!(cut, text_key(&"a".repeat(MAX_TEXT_KEY_CHARS)));
        assert!(cut > text_key(&"a".repeat(MAX_TEXT_KEY_CHARS)));
        assert!(cut < text_key("b"));
    }
}
