//! `google.protobuf.FieldMask` handling shared by the Update methods.

use crm_domain::{DomainError, FieldViolation};

/// Which fields an update touches.
#[derive(Debug)]
pub(crate) struct Mask {
    paths: Vec<String>,
}

impl Mask {
    /// Reads a mask against the fields a method allows. `None` or an empty
    /// mask means `implied`: the fields the caller set to non-default values.
    /// `*` means every allowed field.
    pub(crate) fn parse(
        mask: Option<prost_types::FieldMask>,
        allowed: &[&str],
        implied: Vec<&str>,
    ) -> Result<Mask, DomainError> {
        let paths = mask.map(|mask| mask.paths).unwrap_or_default();
        if paths.is_empty() {
            return Ok(Mask {
                paths: implied.into_iter().map(str::to_owned).collect(),
            });
        }
        if paths.iter().any(|path| path == "*") {
            return Ok(Mask {
                paths: allowed.iter().map(|path| (*path).to_owned()).collect(),
            });
        }
        let violations: Vec<FieldViolation> = paths
            .iter()
            .enumerate()
            .filter(|(_, path)| !allowed.contains(&path.as_str()))
            .map(|(index, path)| {
                FieldViolation::new(
                    format!("update_mask.paths[{index}]"),
                    format!(
                        "{path:?} is not an updatable field; use one of {}",
                        allowed.join(", ")
                    ),
                )
            })
            .collect();
        if violations.is_empty() {
            Ok(Mask { paths })
        } else {
            Err(DomainError::InvalidArgument(violations))
        }
    }

    /// Whether the update touches `field`.
    pub(crate) fn has(&self, field: &str) -> bool {
        self.paths.iter().any(|path| path == field)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
        Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        })
    }

    #[test]
    fn masks() {
        let allowed = ["city", "country"];
        assert!(
            Mask::parse(mask(&["city"]), &allowed, vec![])
                .unwrap()
                .has("city")
        );
        assert!(
            !Mask::parse(mask(&["city"]), &allowed, vec![])
                .unwrap()
                .has("country")
        );
        assert!(
            Mask::parse(mask(&["*"]), &allowed, vec![])
                .unwrap()
                .has("country")
        );
        assert!(
            Mask::parse(None, &allowed, vec!["country"])
                .unwrap()
                .has("country")
        );
        let error = Mask::parse(mask(&["city", "id"]), &allowed, vec![]).unwrap_err();
        assert!(
            matches!(error, DomainError::InvalidArgument(v) if v[0].field == "update_mask.paths[1]")
        );
    }
}
