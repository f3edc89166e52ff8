//! Customer tiers: named, coloured levels of service with a priority rank
//! (rank 1 outranks rank 2), an optional SLA policy and tags applied to a
//! contact when it is put on the tier. The rules here are pure: validating
//! a tier, checking a reorder, and ordering contacts for routing.

use crate::kernel::tag;
use std::collections::HashSet;

use time::{Duration, OffsetDateTime};

use crate::kernel::{DomainError, FieldViolation};
use crate::kernel::{TenantId, TierId};

/// Longest tier name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// Most tiers one tenant may define.
pub const MAX_TIERS: usize = 100;

/// Longest SLA target: a year.
pub const MAX_TARGET: Duration = Duration::days(366);

/// Service-level targets for conversations of contacts on a tier. Either
/// target may be absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlaPolicy {
    /// Time to the first reply.
    pub first_response: Option<Duration>,
    /// Time to resolution.
    pub resolution: Option<Duration>,
}

impl SlaPolicy {
    /// Whether no target is set.
    pub fn is_empty(&self) -> bool {
        self.first_response.is_none() && self.resolution.is_none()
    }
}

/// What a caller writes on a tier.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TierFields {
    /// Shown name, unique in the tenant ignoring case.
    pub name: String,
    /// `#RRGGBB`, upper case once validated.
    pub color: String,
    /// Service-level targets.
    pub sla: SlaPolicy,
    /// Tags a contact gets when put on the tier (normalised).
    pub auto_tags: Vec<String>,
}

/// A stored tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// Its id.
    pub id: TierId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// What the caller wrote.
    pub fields: TierFields,
    /// Priority: 1 is the highest; ranks of a tenant run 1..=n without gaps.
    pub rank: u32,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// When it was created.
    pub create_time: OffsetDateTime,
    /// When it last changed.
    pub update_time: OffsetDateTime,
}

impl Tier {
    /// What a contact on this tier shows of it.
    pub fn badge(&self) -> TierBadge {
        TierBadge {
            id: self.id,
            name: self.fields.name.clone(),
            color: self.fields.color.clone(),
            rank: self.rank,
            sla: self.fields.sla,
        }
    }
}

/// The tier as shown on a contact and used for routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierBadge {
    /// The tier's id.
    pub id: TierId,
    /// Its name.
    pub name: String,
    /// Its colour.
    pub color: String,
    /// Its rank.
    pub rank: u32,
    /// Its SLA targets.
    pub sla: SlaPolicy,
}

/// The key tier names are unique on: trimmed and lower-cased.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Validates and normalises what a caller wrote on a tier. Violations name
/// paths inside the tier (`name`, `auto_tags[1]`); the adapter scopes them.
///
/// # Errors
/// `InvalidArgument` listing every bad field.
pub fn validate(fields: TierFields) -> Result<TierFields, DomainError> {
    let mut violations = Vec::new();
    let name = fields.name.trim().to_owned();
    if name.is_empty() {
        violations.push(FieldViolation::new("name", "is required"));
    } else if name.chars().count() > MAX_NAME_CHARS {
        violations.push(FieldViolation::new(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    } else if name.chars().any(char::is_control) {
        violations.push(FieldViolation::new(
            "name",
            "must not contain control characters",
        ));
    }
    let color = match normalize_color(&fields.color) {
        Ok(color) => color,
        Err(problem) => {
            violations.push(FieldViolation::new("color", problem));
            String::new()
        }
    };
    for (target, field) in [
        (fields.sla.first_response, "first_response_target"),
        (fields.sla.resolution, "resolution_target"),
    ] {
        if let Some(target) = target
            && (target <= Duration::ZERO || target > MAX_TARGET)
        {
            violations.push(FieldViolation::new(
                format!("sla_policy.{field}"),
                "must be positive and at most 366 days",
            ));
        }
    }
    if let (Some(first), Some(resolution)) = (fields.sla.first_response, fields.sla.resolution)
        && resolution < first
    {
        violations.push(FieldViolation::new(
            "sla_policy.resolution_target",
            "must not be shorter than the first-response target",
        ));
    }
    let auto_tags = match tag::normalize_tags(&fields.auto_tags, "auto_tags") {
        Ok(tags) => tags,
        Err(DomainError::InvalidArgument(found)) => {
            violations.extend(found);
            Vec::new()
        }
        Err(other) => return Err(other),
    };
    if !violations.is_empty() {
        return Err(DomainError::InvalidArgument(violations));
    }
    Ok(TierFields {
        name,
        color,
        sla: fields.sla,
        auto_tags,
    })
}

/// `#RRGGBB` in upper case.
///
/// # Errors
/// A description of the problem.
pub fn normalize_color(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    match raw.strip_prefix('#') {
        Some(hex) if hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()) => {
            Ok(format!("#{}", hex.to_ascii_uppercase()))
        }
        _ if raw.is_empty() => Err("is required".to_owned()),
        _ => Err("must be #RRGGBB".to_owned()),
    }
}

/// Checks that `order` lists every tier in `current` exactly once; returns
/// the new rank of each id (1-based, in the given order).
///
/// # Errors
/// `InvalidArgument` on `tier_ids` naming what is missing, repeated or unknown.
pub fn plan_reorder(
    current: &[TierId],
    order: &[TierId],
) -> Result<Vec<(TierId, u32)>, DomainError> {
    // More ids than the tenant has tiers cannot be a valid order: refused
    // before any id is looked at.
    DomainError::check_count("tier_ids", order.len(), current.len(), "ids")?;
    let known: HashSet<TierId> = current.iter().copied().collect();
    let mut seen = HashSet::new();
    let mut violations = Vec::new();
    for (index, id) in order.iter().enumerate() {
        if !known.contains(id) {
            violations.push(FieldViolation::new(
                format!("tier_ids[{index}]"),
                format!("no tier {id}"),
            ));
        } else if !seen.insert(*id) {
            violations.push(FieldViolation::new(
                format!("tier_ids[{index}]"),
                "is listed twice",
            ));
        }
    }
    let missing: Vec<&TierId> = current.iter().filter(|id| !order.contains(id)).collect();
    if !missing.is_empty() {
        violations.push(FieldViolation::new(
            "tier_ids",
            format!(
                "must list every tier; missing {}",
                crate::kernel::some_of(missing)
            ),
        ));
    }
    if !violations.is_empty() {
        return Err(DomainError::InvalidArgument(violations));
    }
    Ok(order
        .iter()
        .zip(1..)
        .map(|(id, rank)| (*id, rank))
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use uuid::Uuid;

    use super::*;

    /// A list over its limit gets one violation, on the list, and nothing
    /// in it is looked at.
    fn only_the_count(error: DomainError, field: &str) {
        let DomainError::InvalidArgument(violations) = error else {
            panic!("expected invalid argument");
        };
        let paths: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(paths, [field]);
    }

    #[test]
    fn an_oversized_reorder_is_refused_before_its_ids_are_read() {
        let unknown = ids(1000);
        only_the_count(plan_reorder(&ids(2), &unknown).unwrap_err(), "tier_ids");
    }

    fn fields(name: &str, color: &str) -> TierFields {
        TierFields {
            name: name.into(),
            color: color.into(),
            ..TierFields::default()
        }
    }

    #[test]
    fn colours_are_hash_and_six_hex_digits() {
        for (raw, expected) in [
            ("#ff8800", Ok("#FF8800")),
            (" #A1b2C3 ", Ok("#A1B2C3")),
            ("ff8800", Err("must be #RRGGBB")),
            ("#fff", Err("must be #RRGGBB")),
            ("#gg0000", Err("must be #RRGGBB")),
            ("", Err("is required")),
        ] {
            assert_eq!(
                normalize_color(raw).as_deref().map_err(String::as_str),
                expected,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn validation_names_every_bad_field() {
        let mut bad = fields(" ", "red");
        bad.sla = SlaPolicy {
            first_response: Some(Duration::minutes(30)),
            resolution: Some(Duration::minutes(5)),
        };
        bad.auto_tags = vec!["ok".into(), "".into()];
        let DomainError::InvalidArgument(violations) = validate(bad).unwrap_err() else {
            panic!("expected invalid argument");
        };
        let paths: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            paths,
            [
                "name",
                "color",
                "sla_policy.resolution_target",
                "auto_tags[1]"
            ]
        );
        let mut negative = fields("Gold", "#FFD700");
        negative.sla.first_response = Some(Duration::seconds(-1));
        assert!(validate(negative).is_err());
    }

    #[test]
    fn valid_tiers_come_back_normalised() {
        let mut gold = fields("  Gold ", "#ffd700");
        gold.auto_tags = vec!["VIP".into(), "vip".into()];
        let gold = validate(gold).unwrap();
        assert_eq!(gold.name, "Gold");
        assert_eq!(gold.color, "#FFD700");
        assert_eq!(gold.auto_tags, ["vip"]);
        assert_eq!(name_key(" GOLD "), "gold");
    }

    fn ids(n: usize) -> Vec<TierId> {
        (0..n).map(|_| TierId::from_uuid(Uuid::now_v7())).collect()
    }

    #[test]
    fn a_reorder_must_list_every_tier_once() {
        let current = ids(3);
        let order = vec![current[2], current[0], current[1]];
        assert_eq!(
            plan_reorder(&current, &order).unwrap(),
            vec![(current[2], 1), (current[0], 2), (current[1], 3)]
        );
        let repeated = vec![current[0], current[0], current[1]];
        let DomainError::InvalidArgument(violations) =
            plan_reorder(&current, &repeated).unwrap_err()
        else {
            panic!("expected invalid argument");
        };
        assert_eq!(violations[0].field, "tier_ids[1]");
        assert_eq!(violations[1].field, "tier_ids");
        let stranger = ids(1);
        assert!(
            plan_reorder(&current, &[current[0], current[1], current[2], stranger[0]]).is_err()
        );
    }
}
