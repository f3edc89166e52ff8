//! Contact filters in the AIP-160 syntax: restrictions on standard fields,
//! tags, channels and engagement figures, joined by `AND`, `OR`, `NOT` (or
//! `-`) and parentheses, parsed into a tree the store compiles to SQL.
//!
//! Precedence is AIP-160's: `OR` binds tighter than `AND`, and terms side
//! by side are joined by `AND` (`a b OR c` is `a AND (b OR c)`).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::contacts::LifecycleStage;
use crate::identity::Channel;
use crate::kernel::{DomainError, OrganizationId, TierId};

pub use super::custom_filter::{CustomRestriction, CustomTest, UntypedField};

/// Longest filter, in bytes (checked before it is read).
pub const MAX_FILTER_BYTES: usize = 2000;

/// Most restrictions one filter may hold.
pub const MAX_RESTRICTIONS: usize = 25;

/// Deepest nesting of parentheses and `NOT`s.
const MAX_DEPTH: usize = 32;

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A text field of the contact row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    /// `display_name`
    DisplayName,
    /// `city`
    City,
    /// `country`
    Country,
    /// `language`
    Language,
}

/// A count kept on the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountField {
    /// `engagement.conversation_count`
    Conversations,
    /// `engagement.message_count`
    Messages,
}

/// A point in time kept on the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    /// `create_time`
    Created,
    /// `update_time`
    Updated,
    /// `engagement.first_contact_time`
    FirstContact,
    /// `engagement.last_contact_time`
    LastContact,
}

/// One restriction, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restriction {
    /// A text field compared (`=` and `!=` only).
    Text(TextField, Comparator, String),
    /// The lifecycle stage (`=` and `!=`).
    Stage(Comparator, LifecycleStage),
    /// The tier (`=` and `!=`); `None` is "no tier".
    Tier(Comparator, Option<TierId>),
    /// The organization (`=` and `!=`); `None` is "no organization".
    Organization(Comparator, Option<OrganizationId>),
    /// Blocked or not.
    Blocked(bool),
    /// Holds a tag (`tags:vip`).
    Tag(String),
    /// Has written in on a channel (`channels:whatsapp`).
    Channel(Channel),
    /// A count compared.
    Count(CountField, Comparator, i64),
    /// A time compared; a time not yet reached (no contact yet) never
    /// matches.
    Time(TimeField, Comparator, OffsetDateTime),
    /// The average CSAT compared, as hundredths (exact: compared as
    /// `csat_sum * 100 <op> hundredths * csat_count`); contacts without a
    /// score never match.
    CsatAverage(Comparator, i64),
    /// A custom field (`custom_fields.KEY`).
    Custom(CustomRestriction),
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Every part holds.
    And(Vec<Filter>),
    /// Any part holds.
    Or(Vec<Filter>),
    /// The part does not hold.
    Not(Box<Filter>),
    /// One restriction.
    Is(Restriction),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Text(String),
    Op(&'static str),
    Open,
    Close,
    Minus,
}

pub(super) use crate::kernel::echo;

pub(super) fn invalid(position: usize, problem: impl std::fmt::Display) -> DomainError {
    DomainError::invalid("filter", format!("at position {position}: {problem}"))
}

fn lex(text: &str) -> Result<Vec<(usize, Token)>, DomainError> {
    let mut tokens = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut at = 0;
    while let Some(&(position, c)) = chars.get(at) {
        let next = chars.get(at + 1).map(|(_, c)| *c);
        match c {
            c if c.is_whitespace() => at += 1,
            '(' => {
                tokens.push((position, Token::Open));
                at += 1;
            }
            ')' => {
                tokens.push((position, Token::Close));
                at += 1;
            }
            '-' if next.is_some_and(|n| !n.is_ascii_digit()) => {
                tokens.push((position, Token::Minus));
                at += 1;
            }
            '<' | '>' | '!' | '=' | ':' => {
                let op = match (c, next) {
                    ('<', Some('=')) => "<=",
                    ('>', Some('=')) => ">=",
                    ('!', Some('=')) => "!=",
                    ('<', _) => "<",
                    ('>', _) => ">",
                    ('=', _) => "=",
                    (':', _) => ":",
                    _ => return Err(invalid(position, "`!` must be followed by `=`")),
                };
                tokens.push((position, Token::Op(op)));
                at += op.len();
            }
            '"' | '\'' => {
                let quote = c;
                let mut value = String::new();
                at += 1;
                loop {
                    match chars.get(at) {
                        None => return Err(invalid(position, "a string is not closed")),
                        Some(&(_, '\\')) => {
                            match chars.get(at + 1) {
                                Some(&(_, escaped)) => value.push(escaped),
                                None => return Err(invalid(position, "a string is not closed")),
                            }
                            at += 2;
                        }
                        Some(&(_, c)) if c == quote => {
                            at += 1;
                            break;
                        }
                        Some(&(_, c)) => {
                            value.push(c);
                            at += 1;
                        }
                    }
                }
                tokens.push((position, Token::Text(value)));
            }
            _ => {
                let start = at;
                while chars
                    .get(at)
                    .is_some_and(|&(_, c)| !c.is_whitespace() && !"()<>!=:\"'".contains(c))
                {
                    at += 1;
                }
                let end = chars.get(at).map_or(text.len(), |&(index, _)| index);
                let word = &text[chars[start].0..end];
                tokens.push((position, Token::Word(word.to_owned())));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    restrictions: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, token)| token)
    }

    fn position(&self) -> usize {
        self.tokens
            .get(self.at)
            .map_or(self.end, |(position, _)| *position)
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(found)) if found == word)
    }

    fn expression(&mut self, depth: usize) -> Result<Filter, DomainError> {
        if depth > MAX_DEPTH {
            return Err(invalid(self.position(), "nested too deeply"));
        }
        let mut parts = vec![self.sequence(depth)?];
        while self.keyword("AND") {
            self.at += 1;
            parts.push(self.sequence(depth)?);
        }
        Ok(join(parts, Filter::And))
    }

    fn sequence(&mut self, depth: usize) -> Result<Filter, DomainError> {
        let mut parts = vec![self.factor(depth)?];
        while self.peek().is_some_and(|token| {
            !matches!(token, Token::Close) && !matches!(token, Token::Word(word) if word == "AND")
        }) {
            parts.push(self.factor(depth)?);
        }
        Ok(join(parts, Filter::And))
    }

    fn factor(&mut self, depth: usize) -> Result<Filter, DomainError> {
        let mut parts = vec![self.term(depth)?];
        while self.keyword("OR") {
            self.at += 1;
            parts.push(self.term(depth)?);
        }
        Ok(join(parts, Filter::Or))
    }

    fn term(&mut self, depth: usize) -> Result<Filter, DomainError> {
        if self.keyword("NOT") || matches!(self.peek(), Some(Token::Minus)) {
            self.at += 1;
            return Ok(Filter::Not(Box::new(self.term(depth + 1)?)));
        }
        match self.peek() {
            Some(Token::Open) => {
                let open = self.position();
                self.at += 1;
                let inner = self.expression(depth + 1)?;
                if !matches!(self.peek(), Some(Token::Close)) {
                    return Err(invalid(open, "a `(` is not closed"));
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Token::Word(_)) => self.restriction(),
            Some(Token::Close) => Err(invalid(self.position(), "a `)` closes nothing")),
            Some(_) => Err(invalid(self.position(), "expected a field name")),
            None => Err(invalid(
                self.position(),
                "the filter ends where a term was expected",
            )),
        }
    }

    fn restriction(&mut self) -> Result<Filter, DomainError> {
        let position = self.position();
        let Some(Token::Word(field)) = self.peek().cloned() else {
            return Err(invalid(position, "expected a field name"));
        };
        self.at += 1;
        let Some(Token::Op(op)) = self.peek().cloned() else {
            return Err(invalid(
                position,
                format!(
                    "`{}` needs a comparator (=, !=, <, <=, >, >= or :)",
                    echo(&field)
                ),
            ));
        };
        self.at += 1;
        let value_position = self.position();
        let value = match self.peek().cloned() {
            Some(Token::Word(word)) => word,
            Some(Token::Text(text)) => text,
            _ => {
                return Err(invalid(
                    value_position,
                    format!("`{}` needs a value", echo(&field)),
                ));
            }
        };
        self.at += 1;
        self.restrictions += 1;
        if self.restrictions > MAX_RESTRICTIONS {
            return Err(invalid(
                position,
                format!("a filter holds at most {MAX_RESTRICTIONS} restrictions"),
            ));
        }
        if let Some(key) = field.strip_prefix("custom_fields.") {
            if !crate::fields::is_valid_key(key) {
                return Err(invalid(
                    position,
                    format!("`{}` is not a custom field key", echo(key)),
                ));
            }
            return Ok(Filter::Is(Restriction::Custom(CustomRestriction {
                key: key.to_owned(),
                position,
                test: CustomTest::Written { op, value },
            })));
        }
        restriction(&field, op, &value)
            .map(Filter::Is)
            .map_err(|problem| invalid(position, problem))
    }
}

fn join(mut parts: Vec<Filter>, make: fn(Vec<Filter>) -> Filter) -> Filter {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        make(parts)
    }
}

fn comparator(op: &str) -> Option<Comparator> {
    Some(match op {
        "=" => Comparator::Eq,
        "!=" => Comparator::Ne,
        "<" => Comparator::Lt,
        "<=" => Comparator::Le,
        ">" => Comparator::Gt,
        ">=" => Comparator::Ge,
        _ => return None,
    })
}

/// `=` or `!=`, for fields that have no order.
pub(super) fn equality(field: &str, op: &str) -> Result<Comparator, String> {
    match comparator(op) {
        Some(found @ (Comparator::Eq | Comparator::Ne)) => Ok(found),
        _ => Err(format!("`{field}` takes = or != only")),
    }
}

pub(super) fn ordered(field: &str, op: &str) -> Result<Comparator, String> {
    comparator(op).ok_or_else(|| format!("`{field}` takes =, !=, <, <=, > or >="))
}

/// A calendar date written `YYYY-MM-DD`.
/// A `YYYY-MM-DD` date.
pub fn parse_date(value: &str) -> Option<time::Date> {
    let mut parts = value.splitn(3, '-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let month = time::Month::try_from(month.parse::<u8>().ok()?).ok()?;
    time::Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()
}

pub(super) fn timestamp(field: &str, value: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| ())
        .or_else(|()| {
            parse_date(value)
                .map(|date| date.midnight().assume_utc())
                .ok_or(())
        })
        .map_err(|_| {
            format!(
                "`{field}` takes a time as RFC 3339 (\"2026-01-31T12:00:00Z\") or a date (\"2026-01-31\"), not `{}`",
                echo(value)
            )
        })
}

fn restriction(field: &str, op: &str, value: &str) -> Result<Restriction, String> {
    let text = |which: TextField| {
        Ok(Restriction::Text(
            which,
            equality(field, op)?,
            value.to_owned(),
        ))
    };
    let count = |which: CountField| {
        let number = value
            .parse::<i64>()
            .map_err(|_| format!("`{field}` takes a whole number, not `{}`", echo(value)))?;
        Ok(Restriction::Count(which, ordered(field, op)?, number))
    };
    let time = |which: TimeField| {
        Ok(Restriction::Time(
            which,
            ordered(field, op)?,
            timestamp(field, value)?,
        ))
    };
    let none_or = |value: &str| (!value.is_empty() && value != "none").then(|| value.to_owned());
    match field {
        "display_name" => text(TextField::DisplayName),
        "city" => text(TextField::City),
        "country" => text(TextField::Country),
        "language" => text(TextField::Language),
        "lifecycle_stage" => {
            let short = value
                .strip_prefix("LIFECYCLE_STAGE_")
                .unwrap_or(value)
                .to_lowercase();
            let stage = LifecycleStage::parse(&short)
                .ok_or_else(|| format!("`{}` is not a lifecycle stage", echo(value)))?;
            Ok(Restriction::Stage(equality(field, op)?, stage))
        }
        "tier_id" => {
            let id = none_or(value)
                .map(|id| {
                    id.parse::<uuid::Uuid>()
                        .map(TierId::from_uuid)
                        .map_err(|_| format!("`{}` is not a tier id", echo(value)))
                })
                .transpose()?;
            Ok(Restriction::Tier(equality(field, op)?, id))
        }
        "organization_id" => {
            let id = none_or(value)
                .map(|id| {
                    id.parse::<uuid::Uuid>()
                        .map(OrganizationId::from_uuid)
                        .map_err(|_| format!("`{}` is not an organization id", echo(value)))
                })
                .transpose()?;
            Ok(Restriction::Organization(equality(field, op)?, id))
        }
        "blocked" => {
            let flag = match value {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(format!(
                        "`blocked` takes true or false, not `{}`",
                        echo(value)
                    ));
                }
            };
            let flag = match equality(field, op)? {
                Comparator::Ne => !flag,
                _ => flag,
            };
            Ok(Restriction::Blocked(flag))
        }
        "tags" => {
            if op != ":" {
                return Err("`tags` takes `:` (tags:vip)".to_owned());
            }
            let tag = crate::kernel::tag::normalize_tag(value)
                .map_err(|problem| format!("`{}` is not a tag: {problem}", echo(value)))?;
            Ok(Restriction::Tag(tag))
        }
        "channels" => {
            if op != ":" {
                return Err("`channels` takes `:` (channels:whatsapp)".to_owned());
            }
            let short = value
                .strip_prefix("CHANNEL_")
                .unwrap_or(value)
                .to_lowercase();
            Channel::parse(&short)
                .map(Restriction::Channel)
                .ok_or_else(|| format!("`{}` is not a channel", echo(value)))
        }
        "create_time" => time(TimeField::Created),
        "update_time" => time(TimeField::Updated),
        "engagement.first_contact_time" => time(TimeField::FirstContact),
        "engagement.last_contact_time" => time(TimeField::LastContact),
        "engagement.conversation_count" => count(CountField::Conversations),
        "engagement.message_count" => count(CountField::Messages),
        "engagement.csat_average" => {
            let hundredths = rust_decimal::Decimal::from_str_exact(value)
                .ok()
                .filter(|number| number.scale() <= 2)
                .and_then(|number| number.checked_mul(rust_decimal::Decimal::ONE_HUNDRED))
                .and_then(|number| number.trunc().to_string().parse::<i64>().ok())
                .ok_or_else(|| {
                    format!(
                        "`{field}` takes a number with at most two decimals, not `{}`",
                        echo(value)
                    )
                })?;
            Ok(Restriction::CsatAverage(ordered(field, op)?, hundredths))
        }
        other => Err(format!(
            "unknown field `{}`; filter on display_name, city, country, language, lifecycle_stage, \
             tier_id, organization_id, blocked, tags, channels, create_time, update_time, \
             engagement.* or custom_fields.*",
            echo(other)
        )),
    }
}

impl Filter {
    /// Parses an AIP-160 filter; `None` for an empty one.
    ///
    /// # Errors
    /// `InvalidArgument` on `filter`, naming the offending term and its
    /// position (in bytes from the start), when it is longer than
    /// [`MAX_FILTER_BYTES`], holds more than [`MAX_RESTRICTIONS`]
    /// restrictions, or does not parse.
    pub fn parse(text: &str) -> Result<Option<Filter>, DomainError> {
        if text.len() > MAX_FILTER_BYTES {
            return Err(DomainError::invalid(
                "filter",
                format!("must be at most {MAX_FILTER_BYTES} bytes"),
            ));
        }
        let tokens = lex(text)?;
        if tokens.is_empty() {
            return Ok(None);
        }
        let mut parser = Parser {
            tokens,
            at: 0,
            restrictions: 0,
            end: text.len(),
        };
        let filter = parser.expression(0)?;
        if parser.at < parser.tokens.len() {
            return Err(invalid(parser.position(), "unexpected `)`"));
        }
        Ok(Some(filter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Filter {
        Filter::parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .unwrap_or_else(|| panic!("{text}: empty"))
    }

    fn problem(text: &str) -> String {
        match Filter::parse(text) {
            Err(DomainError::InvalidArgument(found)) => {
                assert_eq!(found[0].field, "filter");
                found[0].description.clone()
            }
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn or_binds_tighter_than_and_and_terms_side_by_side_are_anded() {
        let vip = Filter::Is(Restriction::Tag("vip".into()));
        let whatsapp = Filter::Is(Restriction::Channel(Channel::Whatsapp));
        let five = Filter::Is(Restriction::Count(
            CountField::Conversations,
            Comparator::Ge,
            5,
        ));
        assert_eq!(
            parsed("tags:vip AND channels:whatsapp OR engagement.conversation_count >= 5"),
            Filter::And(vec![
                vip.clone(),
                Filter::Or(vec![whatsapp.clone(), five.clone()])
            ])
        );
        assert_eq!(
            parsed("tags:vip channels:whatsapp"),
            Filter::And(vec![vip.clone(), whatsapp.clone()])
        );
        assert_eq!(
            parsed("NOT (tags:vip OR -channels:whatsapp)"),
            Filter::Not(Box::new(Filter::Or(vec![
                vip,
                Filter::Not(Box::new(whatsapp))
            ])))
        );
        assert_eq!(Filter::parse("   "), Ok(None));
    }

    #[test]
    fn values_are_typed() {
        assert_eq!(
            parsed("create_time >= \"2026-01-31\""),
            Filter::Is(Restriction::Time(
                TimeField::Created,
                Comparator::Ge,
                OffsetDateTime::parse("2026-01-31T00:00:00Z", &Rfc3339)
                    .unwrap_or_else(|e| panic!("{e}"))
            ))
        );
        assert_eq!(
            parsed("engagement.csat_average > 4.25"),
            Filter::Is(Restriction::CsatAverage(Comparator::Gt, 425))
        );
        assert_eq!(
            parsed("lifecycle_stage = LIFECYCLE_STAGE_CUSTOMER"),
            Filter::Is(Restriction::Stage(Comparator::Eq, LifecycleStage::Customer))
        );
        assert_eq!(
            parsed("blocked != true"),
            Filter::Is(Restriction::Blocked(false))
        );
        assert_eq!(
            parsed("tier_id = none"),
            Filter::Is(Restriction::Tier(Comparator::Eq, None))
        );
        assert_eq!(
            parsed("display_name = 'Ana \\'A\\' Silva'"),
            Filter::Is(Restriction::Text(
                TextField::DisplayName,
                Comparator::Eq,
                "Ana 'A' Silva".into()
            ))
        );
    }

    #[test]
    fn bad_filters_name_the_term_and_its_position_without_echoing_much() {
        assert!(problem("colour = \"red\"").starts_with("at position 0: unknown field `colour`"));
        assert!(problem("tags:vip AND city").contains("at position 13: `city` needs a comparator"));
        assert!(problem("engagement.conversation_count >= many").contains("whole number"));
        assert!(problem("create_time > \"yesterday\"").contains("RFC 3339"));
        assert!(problem("(tags:vip").contains("not closed"));
        assert!(problem("tags:vip)").contains("unexpected `)`"));
        assert!(problem("city < \"Lisbon\"").contains("= or != only"));
        assert!(problem("tags = vip").contains("takes `:`"));
        assert!(problem("display_name = \"open").contains("not closed"));
        let long = format!("{} = 1", "x".repeat(500));
        assert!(problem(&long).len() < 300);
        let many = vec!["tags:a"; MAX_RESTRICTIONS + 1].join(" AND ");
        assert!(problem(&many).contains("at most 25 restrictions"));
        let deep = format!("{}tags:a{}", "(".repeat(40), ")".repeat(40));
        assert!(problem(&deep).contains("nested too deeply"));
        assert!(problem(&"a".repeat(MAX_FILTER_BYTES + 1)).contains("at most"));
    }
}
