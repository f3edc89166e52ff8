//! Sender matching: which addresses a ResolveSender request names, normalised,
//! and the order they are matched in (the address, then external id, email and
//! phone). What to do with the contacts that hold them is decided by
//! `contacts::resolve`.

use crate::identity;
use crate::identity::{Channel, IdentityKind, Region};
use crate::identity::{ContactIdentity, IdentityKey};
use crate::kernel::{DomainError, FieldViolation};

/// A ResolveSender request as the domain sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderInput {
    /// The channel the message arrived on.
    pub channel: Channel,
    /// The sender's address on that channel.
    pub address: String,
    /// The sender's name as the channel gave it; may be empty.
    pub display_name: String,
    /// An email hint; may be empty.
    pub email: String,
    /// A phone hint; may be empty.
    pub phone: String,
    /// An external-id hint; may be empty.
    pub external_id: String,
}

impl SenderInput {
    /// A sender known only by its address on `channel`: no name, no hints.
    pub fn address(channel: Channel, address: impl Into<String>) -> Self {
        Self {
            channel,
            address: address.into(),
            display_name: String::new(),
            email: String::new(),
            phone: String::new(),
            external_id: String::new(),
        }
    }
}

/// Which address of the request found the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MatchedBy {
    /// The channel address itself.
    Address,
    /// The external-id hint.
    ExternalId,
    /// The email hint.
    Email,
    /// The phone hint.
    Phone,
}

/// One address of the request, normalised, with its matching rank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// What it is, normalised.
    pub identity: ContactIdentity,
    /// Which part of the request it came from; also its rank.
    pub source: MatchedBy,
}

/// The addresses a request names, normalised, in matching order: the
/// address, then external id, then email, then phone. A hint equal to an
/// earlier address is dropped.
///
/// # Errors
/// `InvalidArgument` naming each field that does not hold a valid address.
pub fn candidates(input: &SenderInput, region: Region) -> Result<Vec<Candidate>, DomainError> {
    let mut violations = Vec::new();
    let mut out: Vec<Candidate> = Vec::with_capacity(4);
    let mut push = |result: Result<identity::NormalizedAddress, identity::AddressError>,
                    source: MatchedBy,
                    field: &str| match result {
        Ok(address) => {
            if !out.iter().any(|candidate| {
                candidate.identity.kind == address.kind && candidate.identity.value == address.value
            }) {
                out.push(Candidate {
                    identity: ContactIdentity {
                        kind: address.kind,
                        value: address.value,
                        raw: address.raw,
                        primary: false,
                    },
                    source,
                });
            }
        }
        Err(error) => violations.push(FieldViolation::new(field, error.to_string())),
    };
    push(
        identity::address_for_channel(input.channel, &input.address, region),
        MatchedBy::Address,
        "address",
    );
    if !input.external_id.is_empty() {
        push(
            identity::normalize(IdentityKind::ExternalId, &input.external_id, region),
            MatchedBy::ExternalId,
            "external_id",
        );
    }
    if !input.email.is_empty() {
        push(
            identity::normalize(IdentityKind::Email, &input.email, region),
            MatchedBy::Email,
            "email",
        );
    }
    if !input.phone.is_empty() {
        push(
            identity::normalize(IdentityKind::Phone, &input.phone, region),
            MatchedBy::Phone,
            "phone",
        );
    }
    let display_name = input.display_name.trim();
    if display_name.chars().count() > identity::MAX_DISPLAY_NAME
        || display_name.chars().any(char::is_control)
    {
        violations.push(FieldViolation::new(
            "display_name",
            format!(
                "must be at most {} characters without control characters",
                identity::MAX_DISPLAY_NAME
            ),
        ));
    }
    if violations.is_empty() {
        Ok(out)
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}

/// The keys to look holders up by.
pub fn keys(candidates: &[Candidate]) -> Vec<IdentityKey> {
    candidates
        .iter()
        .map(|candidate| candidate.identity.key())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn region() -> Region {
        Region::parse("US").unwrap()
    }

    #[test]
    fn candidates_come_in_matching_order_without_repeats() {
        let request = SenderInput {
            email: "Ana@Example.com".into(),
            phone: "+1 650 253 0000".into(),
            external_id: "crm-42".into(),
            ..SenderInput::address(Channel::Email, "ana@example.com")
        };
        let found = candidates(&request, region()).unwrap();
        let order: Vec<_> = found.iter().map(|c| (c.source, c.identity.kind)).collect();
        assert_eq!(
            order,
            [
                (MatchedBy::Address, IdentityKind::Email),
                (MatchedBy::ExternalId, IdentityKind::ExternalId),
                (MatchedBy::Phone, IdentityKind::Phone),
            ]
        );
    }

    #[test]
    fn whatsapp_and_sms_share_the_phone_space() {
        let whatsapp = candidates(
            &SenderInput::address(Channel::Whatsapp, "16502530000"),
            region(),
        )
        .unwrap();
        let sms = candidates(
            &SenderInput::address(Channel::Sms, "(650) 253-0000"),
            region(),
        )
        .unwrap();
        assert_eq!(whatsapp[0].identity.key(), sms[0].identity.key());
    }

    #[test]
    fn every_bad_field_is_named() {
        let request = SenderInput {
            email: "not-an-email".into(),
            phone: "12".into(),
            ..SenderInput::address(Channel::Email, "")
        };
        let DomainError::InvalidArgument(violations) = candidates(&request, region()).unwrap_err()
        else {
            panic!("expected invalid argument");
        };
        let named: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(named, ["address", "email", "phone"]);
    }
}
