//! Tags: free labels on contacts, one namespace per tenant. A tag is stored
//! normalised (trimmed, inner whitespace collapsed to one space, lower-cased),
//! so "VIP", " vip " and "Vip" are one tag; the normalised form is also how
//! it is shown.

use crate::kernel::{DomainError, FieldViolation};

/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 64;

/// Most tags on one contact (or auto-applied by one tier).
pub const MAX_TAGS: usize = 100;

/// The normalised form of a tag.
///
/// # Errors
/// A description of what is wrong: empty, too long, or a control character.
pub fn normalize_tag(raw: &str) -> Result<String, String> {
    if raw.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    let collapsed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let tag = collapsed.to_lowercase();
    if tag.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if tag.chars().count() > MAX_TAG_CHARS {
        return Err(format!("must be at most {MAX_TAG_CHARS} characters"));
    }
    Ok(tag)
}

/// Normalises a list of tags written at `field` (`field[i]` per item):
/// sorted, without repeats.
///
/// # Errors
/// `InvalidArgument` listing every bad tag, or the list when it is too long.
pub fn normalize_tags(raw: &[String], field: &str) -> Result<Vec<String>, DomainError> {
    let mut violations = Vec::new();
    // The count first (repeats included): a list over the limit is not looked at.
    DomainError::check_count(field, raw.len(), MAX_TAGS, "tags")?;
    let mut tags = Vec::with_capacity(raw.len());
    for (index, tag) in raw.iter().enumerate() {
        match normalize_tag(tag) {
            Ok(tag) => tags.push(tag),
            Err(problem) => {
                violations.push(FieldViolation::new(format!("{field}[{index}]"), problem))
            }
        }
    }
    tags.sort();
    tags.dedup();
    if violations.is_empty() {
        Ok(tags)
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}

/// `held` with `added` merged in, sorted and without repeats.
pub fn union(held: &[String], added: &[String]) -> Vec<String> {
    let mut tags: Vec<String> = held.iter().chain(added).cloned().collect();
    tags.sort();
    tags.dedup();
    tags
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

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
    fn an_oversized_list_is_refused_before_its_tags_are_read() {
        let raw = vec![" ".repeat(100); 10_000];
        only_the_count(normalize_tags(&raw, "tags").unwrap_err(), "tags");
    }

    fn check(raw: &str, expected: Result<&str, &str>) {
        assert_eq!(
            normalize_tag(raw).as_deref().map_err(String::as_str),
            expected,
            "{raw:?}"
        );
    }

    #[test]
    fn tags_are_trimmed_collapsed_and_lower_cased() {
        check("VIP", Ok("vip"));
        check("  vip  ", Ok("vip"));
        check("Key   Account", Ok("key account"));
        check("Überkunde", Ok("überkunde"));
        check("", Err("must not be empty"));
        check("   ", Err("must not be empty"));
        check("a\u{0}b", Err("must not contain control characters"));
        check(&"x".repeat(64), Ok(&"x".repeat(64)));
        check(&"x".repeat(65), Err("must be at most 64 characters"));
    }

    #[test]
    fn lists_are_sorted_without_repeats_and_name_each_bad_item() {
        let tags = normalize_tags(&["b".into(), "A".into(), " a ".into()], "tags").unwrap();
        assert_eq!(tags, ["a", "b"]);
        let error = normalize_tags(&["ok".into(), " ".into()], "tags").unwrap_err();
        assert_eq!(error, DomainError::invalid("tags[1]", "must not be empty"));
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert!(normalize_tags(&many, "tags").is_err());
    }

    proptest! {
        #[test]
        fn normalising_twice_changes_nothing(raw in "\\PC{0,80}") {
            if let Ok(tag) = normalize_tag(&raw) {
                prop_assert_eq!(normalize_tag(&tag), Ok(tag.clone()));
            }
        }
    }
}
