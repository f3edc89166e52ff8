//! The custom-field restrictions of a contact filter
//! (`custom_fields.KEY op value`): parsed as written, then typed by the
//! field's definition into a comparison of sort keys
//! (`fields::sort_key`), which the store reads from its standing index.

use rust_decimal::Decimal;

use super::filter::{echo, equality, invalid, ordered, parse_date, timestamp};
use crate::contacts::{Comparator, Filter, Restriction};
use crate::fields::{FieldDefinition, FieldType, sort_key};
use crate::identity::{self, PhoneInput, Region};
use crate::kernel::DomainError;

/// A restriction on a custom field, by key: as written until
/// [`Filter::type_custom_fields`] reads it with the field's definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRestriction {
    /// The field's key.
    pub key: String,
    /// Where the restriction starts in the filter, for messages.
    pub position: usize,
    /// What the value must be.
    pub test: CustomTest,
}

/// What a custom field's value must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomTest {
    /// As written, before the field's type is known.
    Written {
        /// The comparator (`=`, `!=`, `<`, `<=`, `>`, `>=`, `:`).
        op: &'static str,
        /// The value.
        value: String,
    },
    /// Holds a value at all (`custom_fields.plan:*`, AIP-160's presence).
    Present,
    /// Holds a value whose sort key (`fields::sort_key`) compares so; a
    /// multi-select holding an option is `=` on that option's key. A
    /// contact without a value never matches.
    Key(Comparator, String),
}

/// Why a filter's custom-field restrictions could not be typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UntypedField {
    /// No custom field of contacts has this key (any more).
    Unknown {
        /// The key as written.
        key: String,
        /// Where it is in the filter.
        position: usize,
    },
    /// The value does not fit the field.
    Invalid(DomainError),
}

impl UntypedField {
    /// As the error of a filter a caller just wrote: `InvalidArgument` on
    /// `filter`.
    pub fn into_error(self) -> DomainError {
        match self {
            UntypedField::Unknown { key, position } => {
                invalid(position, format!("unknown custom field `{}`", echo(&key)))
            }
            UntypedField::Invalid(error) => error,
        }
    }
}

/// Types one custom-field restriction as written by its field's definition.
fn custom_test(
    definition: &FieldDefinition,
    op: &str,
    value: &str,
    region: Region,
) -> Result<CustomTest, String> {
    let field = format!("custom_fields.{}", definition.key);
    let field = field.as_str();
    let key = |op: Comparator, key: String| Ok(CustomTest::Key(op, key));
    match definition.spec.field_type {
        FieldType::Text | FieldType::MultilineText => {
            if value.chars().count() > sort_key::MAX_TEXT_KEY_CHARS {
                return Err(format!(
                    "`{field}` is compared with at most {} characters",
                    sort_key::MAX_TEXT_KEY_CHARS
                ));
            }
            key(equality(field, op)?, value.to_owned())
        }
        FieldType::Number | FieldType::Percent | FieldType::Currency => {
            let number = Decimal::from_str_exact(value)
                .map_err(|_| format!("`{field}` takes a number, not `{}`", echo(value)))?;
            key(ordered(field, op)?, sort_key::decimal_key(number))
        }
        FieldType::Link => key(equality(field, op)?, value.trim().to_owned()),
        FieldType::Email => {
            let email = identity::normalize_email(value)
                .map_err(|_| format!("`{field}` takes an email, not `{}`", echo(value)))?;
            key(equality(field, op)?, email)
        }
        FieldType::Phone => {
            let phone = identity::normalize_phone(value, region, PhoneInput::National)
                .map_err(|_| format!("`{field}` takes a phone number, not `{}`", echo(value)))?;
            key(equality(field, op)?, phone)
        }
        FieldType::Date => {
            let day = parse_date(value).ok_or_else(|| {
                format!(
                    "`{field}` takes a date (\"2027-01-01\"), not `{}`",
                    echo(value)
                )
            })?;
            key(ordered(field, op)?, sort_key::date_key(day))
        }
        FieldType::DateTime => key(
            ordered(field, op)?,
            sort_key::instant_key(timestamp(field, value)?),
        ),
        FieldType::Checkbox => {
            let checked = match value {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(format!(
                        "`{field}` takes true or false, not `{}`",
                        echo(value)
                    ));
                }
            };
            let checked = checked != (equality(field, op)? == Comparator::Ne);
            key(Comparator::Eq, if checked { "1" } else { "0" }.to_owned())
        }
        FieldType::SingleSelect | FieldType::MultiSelect => {
            let multi = definition.spec.field_type == FieldType::MultiSelect;
            let op = if multi {
                if op != ":" {
                    return Err(format!("`{field}` takes `:` ({field}:OPTION)"));
                }
                Comparator::Eq
            } else {
                equality(field, op)?
            };
            if !definition
                .spec
                .options
                .iter()
                .any(|option| option.key == value)
            {
                return Err(format!(
                    "`{}` is not an option of `{field}` (filter by option key)",
                    echo(value)
                ));
            }
            key(op, value.to_owned())
        }
    }
}

impl Filter {
    /// The keys of the custom fields the filter names and
    /// [`Filter::type_custom_fields`] has not typed yet, each once.
    pub fn untyped_custom_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        self.visit(&mut |restriction| {
            if let Restriction::Custom(custom) = restriction
                && matches!(custom.test, CustomTest::Written { .. })
                && !keys.contains(&custom.key)
            {
                keys.push(custom.key.clone());
            }
        });
        keys
    }

    /// Every restriction, in order.
    pub fn visit(&self, each: &mut impl FnMut(&Restriction)) {
        match self {
            Filter::And(parts) | Filter::Or(parts) => {
                for part in parts {
                    part.visit(each);
                }
            }
            Filter::Not(part) => part.visit(each),
            Filter::Is(restriction) => each(restriction),
        }
    }

    /// Types every custom-field restriction by its field's definition
    /// (`definitions` holds those of [`Filter::untyped_custom_keys`] that
    /// exist);
    /// phones are read with `region`, as values are written.
    ///
    /// # Errors
    /// [`UntypedField`]: the first unknown key, or a value that does not
    /// fit its field.
    pub fn type_custom_fields(
        &mut self,
        definitions: &[FieldDefinition],
        region: Region,
    ) -> Result<(), UntypedField> {
        match self {
            Filter::And(parts) | Filter::Or(parts) => parts
                .iter_mut()
                .try_for_each(|part| part.type_custom_fields(definitions, region)),
            Filter::Not(part) => part.type_custom_fields(definitions, region),
            Filter::Is(Restriction::Custom(custom)) => {
                let Some(definition) = definitions.iter().find(|found| found.key == custom.key)
                else {
                    return Err(UntypedField::Unknown {
                        key: custom.key.clone(),
                        position: custom.position,
                    });
                };
                if let CustomTest::Written { op, value } = &custom.test {
                    custom.test = if *op == ":" && value == "*" {
                        Ok(CustomTest::Present)
                    } else {
                        custom_test(definition, op, value, region)
                    }
                    .map_err(|problem| UntypedField::Invalid(invalid(custom.position, problem)))?;
                }
                Ok(())
            }
            Filter::Is(_) => Ok(()),
        }
    }
}
