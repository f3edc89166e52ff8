//! The `custom_values` column that contacts, organizations and
//! conversations share: a record's custom-field values as JSON text.
//!
//! Each value is stored tagged with its type (`{"t":"number","v":"12.5"}`),
//! so a record decodes without reading any definition; decimals are strings,
//! so nothing ever passes through a float.

use std::collections::BTreeMap;
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

/// Inverse of [`values_to_json`]. Read straight into typed fields, not
/// through a `serde_json::Value` tree: every contact read decodes this
/// column, and the tree (a map and a string per field, the sort keys
/// included) was half of an export's folding.
pub(crate) fn values_from_json(text: &str) -> Result<CustomValues, DomainError> {
    let stored: BTreeMap<String, Stored> =
        serde_json::from_str(text).map_err(|_| corrupt("custom values"))?;
    stored
        .into_iter()
        .map(|(key, value)| Ok((key, value.into_value()?)))
        .collect()
}

/// One stored value as [`value_to_json`] writes it; its sort keys (`k`)
/// are skipped.
#[derive(serde::Deserialize)]
struct Stored {
    t: String,
    #[serde(default)]
    v: Option<StoredPayload>,
    #[serde(default)]
    c: Option<String>,
    #[serde(default)]
    s: Option<i64>,
    #[serde(default)]
    n: Option<i64>,
}

/// A stored value's `v`: a text, a flag or a list of option keys.
enum StoredPayload {
    Text(String),
    Flag(bool),
    Keys(Vec<String>),
}

impl<'de> serde::Deserialize<'de> for StoredPayload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Payload;
        impl<'de> serde::de::Visitor<'de> for Payload {
            type Value = StoredPayload;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, a boolean or a list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<StoredPayload, E> {
                Ok(StoredPayload::Text(text.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, text: String) -> Result<StoredPayload, E> {
                Ok(StoredPayload::Text(text))
            }
            fn visit_bool<E: serde::de::Error>(self, flag: bool) -> Result<StoredPayload, E> {
                Ok(StoredPayload::Flag(flag))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut items: A,
            ) -> Result<StoredPayload, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = items.next_element::<String>()? {
                    keys.push(key);
                }
                Ok(StoredPayload::Keys(keys))
            }
        }
        deserializer.deserialize_any(Payload)
    }
}

impl Stored {
    fn into_value(self) -> Result<FieldValue, DomainError> {
        let Stored { t, v, c, s, n } = self;
        let text = |v: Option<StoredPayload>, what: &str| match v {
            Some(StoredPayload::Text(text)) => Ok(text),
            _ => Err(corrupt(what)),
        };
        let decimal = |text: String| Decimal::from_str(&text).map_err(|_| corrupt("decimal"));
        Ok(match t.as_str() {
            "text" => FieldValue::Text(text(v, "custom value")?),
            "number" => FieldValue::Number(decimal(text(v, "number")?)?),
            "percent" => FieldValue::Percent(decimal(text(v, "percent")?)?),
            "currency" => FieldValue::Currency(Money {
                amount: decimal(text(v, "currency")?)?,
                currency: c.ok_or_else(|| corrupt("currency"))?,
            }),
            "link" => FieldValue::Link(text(v, "link")?),
            "email" => FieldValue::Email(text(v, "email")?),
            "phone" => FieldValue::Phone(text(v, "phone")?),
            "date" => {
                FieldValue::Date(parse_date(&text(v, "date")?).ok_or_else(|| corrupt("date"))?)
            }
            "date_time" => {
                let (Some(seconds), Some(nanos)) = (s, n) else {
                    return Err(corrupt("date-time"));
                };
                FieldValue::DateTime(
                    OffsetDateTime::from_unix_timestamp_nanos(
                        i128::from(seconds) * 1_000_000_000 + i128::from(nanos),
                    )
                    .map_err(|_| corrupt("date-time"))?,
                )
            }
            "checkbox" => match v {
                Some(StoredPayload::Flag(flag)) => FieldValue::Checkbox(flag),
                _ => return Err(corrupt("checkbox")),
            },
            "single_select" => FieldValue::Select(text(v, "single select")?),
            "multi_select" => match v {
                Some(StoredPayload::Keys(keys)) => FieldValue::MultiSelect(keys),
                _ => return Err(corrupt("multi-select")),
            },
            _ => return Err(corrupt("custom value type")),
        })
    }
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
        // Sort keys are read past; a value of the wrong shape is refused.
        let keyed = "{\"a\":{\"t\":\"text\",\"v\":\"x\",\"k\":[\"x\",1]}}";
        assert_eq!(
            values_from_json(keyed).unwrap()["a"],
            FieldValue::Text("x".into())
        );
        for bad in [
            "{\"a\":{\"t\":\"checkbox\",\"v\":\"yes\"}}",
            "{\"a\":{\"t\":\"number\",\"v\":\"1.2.3\"}}",
            "{\"a\":{\"t\":\"multi_select\",\"v\":[1]}}",
            "{\"a\":{\"t\":\"date_time\",\"s\":1}}",
            "{\"a\":{\"v\":\"x\"}}",
            "[]",
        ] {
            assert!(values_from_json(bad).is_err(), "{bad}");
        }
    }
}
