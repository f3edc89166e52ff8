//! The `custom_values` column that contacts, organizations and
//! conversations share: a record's custom-field values as JSON text.
//!
//! Each value is stored tagged with its type (`{"t":"number","v":"12.5"}`),
//! so a record decodes without reading any definition; decimals are strings,
//! so nothing ever passes through a float.

use std::str::FromStr;

use crm_domain::DomainError;
use crm_domain::fields::{CustomValues, FieldValue, sort_key};
use crm_domain::kernel::Money;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::{Date, Month, OffsetDateTime};

pub(crate) fn corrupt(what: &str) -> DomainError {
    DomainError::Internal(format!("stored {what} is invalid"))
}

/// One value as stored.
pub(crate) fn value_to_json(value: &FieldValue) -> Value {
    match value {
        FieldValue::Text(text) => json!({"t": "text", "v": text}),
        FieldValue::Number(number) => json!({"t": "number", "v": number.to_string()}),
        FieldValue::Percent(number) => json!({"t": "percent", "v": number.to_string()}),
        FieldValue::Currency(money) => {
            json!({"t": "currency", "v": money.amount.to_string(), "c": money.currency})
        }
        FieldValue::Link(url) => json!({"t": "link", "v": url}),
        FieldValue::Email(email) => json!({"t": "email", "v": email}),
        FieldValue::Phone(phone) => json!({"t": "phone", "v": phone}),
        FieldValue::Date(date) => json!({
            "t": "date",
            "v": format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
        }),
        FieldValue::DateTime(instant) => json!({
            "t": "date_time",
            "s": instant.unix_timestamp(),
            "n": instant.nanosecond()
        }),
        FieldValue::Checkbox(checked) => json!({"t": "checkbox", "v": checked}),
        FieldValue::Select(key) => json!({"t": "single_select", "v": key}),
        FieldValue::MultiSelect(keys) => json!({"t": "multi_select", "v": keys}),
    }
}

/// Inverse of [`value_to_json`].
pub(crate) fn value_from_json(value: &Value) -> Result<FieldValue, DomainError> {
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| corrupt("custom value"))
    };
    let decimal = |key: &str| {
        text(key).and_then(|text| Decimal::from_str(&text).map_err(|_| corrupt("decimal")))
    };
    let kind = text("t")?;
    Ok(match kind.as_str() {
        "text" => FieldValue::Text(text("v")?),
        "number" => FieldValue::Number(decimal("v")?),
        "percent" => FieldValue::Percent(decimal("v")?),
        "currency" => FieldValue::Currency(Money {
            amount: decimal("v")?,
            currency: text("c")?,
        }),
        "link" => FieldValue::Link(text("v")?),
        "email" => FieldValue::Email(text("v")?),
        "phone" => FieldValue::Phone(text("v")?),
        "date" => FieldValue::Date(parse_date(&text("v")?).ok_or_else(|| corrupt("date"))?),
        "date_time" => {
            let seconds = value.get("s").and_then(Value::as_i64);
            let nanos = value.get("n").and_then(Value::as_i64);
            let (Some(seconds), Some(nanos)) = (seconds, nanos) else {
                return Err(corrupt("date-time"));
            };
            let instant = OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(seconds) * 1_000_000_000 + i128::from(nanos),
            )
            .map_err(|_| corrupt("date-time"))?;
            FieldValue::DateTime(instant)
        }
        "checkbox" => FieldValue::Checkbox(
            value
                .get("v")
                .and_then(Value::as_bool)
                .ok_or_else(|| corrupt("checkbox"))?,
        ),
        "single_select" => FieldValue::Select(text("v")?),
        "multi_select" => FieldValue::MultiSelect(
            value
                .get("v")
                .and_then(Value::as_array)
                .ok_or_else(|| corrupt("multi-select"))?
                .iter()
                .map(|key| {
                    key.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| corrupt("option key"))
                })
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(corrupt("custom value type")),
    })
}

fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.splitn(3, '-');
    let year = parts.next()?.parse().ok()?;
    let month = Month::try_from(parts.next()?.parse::<u8>().ok()?).ok()?;
    let day = parts.next()?.parse().ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// A record's values as stored.
pub(crate) fn values_to_json(values: &CustomValues) -> String {
    Value::Object(
        values
            .iter()
            .map(|(key, value)| {
                let mut stored = value_to_json(value);
                if let Value::Object(fields) = &mut stored {
                    fields.insert("k".to_owned(), json!(sort_key::sort_keys(value)));
                }
                (key.clone(), stored)
            })
            .collect(),
    )
    .to_string()
}

/// Inverse of [`values_to_json`].
pub(crate) fn values_from_json(text: &str) -> Result<CustomValues, DomainError> {
    let object: serde_json::Map<String, Value> =
        serde_json::from_str(text).map_err(|_| corrupt("custom values"))?;
    object
        .iter()
        .map(|(key, value)| Ok((key.clone(), value_from_json(value)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_kind_of_value_round_trips_through_json() {
        let values: CustomValues = [
            ("a", FieldValue::Text("x\ny".into())),
            (
                "b",
                FieldValue::Number(Decimal::from_str("-12.3400").unwrap()),
            ),
            ("c", FieldValue::Percent(Decimal::from_str("99.5").unwrap())),
            (
                "d",
                FieldValue::Currency(Money {
                    amount: Decimal::from_str("1234567890.12").unwrap(),
                    currency: "BRL".into(),
                }),
            ),
            ("e", FieldValue::Link("https://x.com".into())),
            ("f", FieldValue::Email("a@x.com".into())),
            ("g", FieldValue::Phone("+16502530000".into())),
            (
                "h",
                FieldValue::Date(Date::from_calendar_date(2026, Month::September, 12).unwrap()),
            ),
            (
                "i",
                FieldValue::DateTime(
                    OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap(),
                ),
            ),
            ("j", FieldValue::Checkbox(true)),
            ("k", FieldValue::Select("gold".into())),
            ("l", FieldValue::MultiSelect(vec!["a".into(), "b".into()])),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
        let stored = values_to_json(&values);
        assert_eq!(values_from_json(&stored).unwrap(), values);
        assert!(values_from_json("{\"a\":{\"t\":\"bogus\"}}").is_err());
    }
}
