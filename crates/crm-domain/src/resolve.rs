//! Sender resolution as pure rules: which addresses a ResolveSender request
//! names, in which order they are matched, and, given the contacts that hold
//! any of them, what to do (return a known contact, attach new hints to it,
//! or create a contact). The use case in `service.rs` feeds these rules from
//! the repository and applies their decision atomically.

use crate::contact::{self, Contact, ContactIdentity, IdentityKey};
use crate::error::{DomainError, FieldViolation};
use crate::identity::{self, Channel, IdentityKind, Region};

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
    if display_name.chars().count() > contact::MAX_DISPLAY_NAME
        || display_name.chars().any(char::is_control)
    {
        violations.push(FieldViolation::new(
            "display_name",
            format!(
                "must be at most {} characters without control characters",
                contact::MAX_DISPLAY_NAME
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

/// What resolution decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A contact holds one of the addresses.
    Known {
        /// The contact that holds the highest-ranked address.
        contact: Box<Contact>,
        /// Which address found it.
        matched_by: MatchedBy,
        /// Request addresses nobody holds, to attach to it.
        attach: Vec<ContactIdentity>,
    },
    /// Nobody holds any of the addresses: create a contact holding them all.
    New {
        /// The new contact's identities, primaries set.
        identities: Vec<ContactIdentity>,
        /// The new contact's display name.
        display_name: String,
    },
}

/// Decides a resolution from the request's candidates and every contact that
/// holds any of them.
///
/// The highest-ranked address that somebody holds picks the contact. Hints
/// nobody holds are attached to it; hints another contact holds are left
/// there (they point at a possible duplicate, which is a merge decision, not
/// resolution's). A contact keeps its one external id, and a contact holding
/// [`contact::MAX_IDENTITIES`] addresses takes no more.
pub fn decide(candidates: &[Candidate], holders: Vec<Contact>, display_name: &str) -> Decision {
    let matched = candidates.iter().find_map(|candidate| {
        let key = candidate.identity.key();
        holders
            .iter()
            .position(|holder| holder.holds(&key))
            .map(|index| (index, candidate.source))
    });
    let held_by_anyone = |identity: &ContactIdentity| {
        let key = identity.key();
        holders.iter().any(|holder| holder.holds(&key))
    };
    match matched {
        Some((index, matched_by)) => {
            let contact = Box::new(holders[index].clone());
            let mut attach: Vec<ContactIdentity> = Vec::new();
            for candidate in candidates {
                let identity = &candidate.identity;
                if held_by_anyone(identity) {
                    continue;
                }
                if identity.kind == IdentityKind::ExternalId && contact.external_id().is_some() {
                    continue;
                }
                // A full contact takes no more addresses; resolution still
                // answers with it.
                if contact.identities.len() + attach.len() >= contact::MAX_IDENTITIES {
                    break;
                }
                let has_kind = contact.identities_of(identity.kind).next().is_some()
                    || attach.iter().any(|attached| attached.kind == identity.kind);
                attach.push(ContactIdentity {
                    primary: !has_kind
                        && matches!(identity.kind, IdentityKind::Email | IdentityKind::Phone),
                    ..identity.clone()
                });
            }
            Decision::Known {
                contact,
                matched_by,
                attach,
            }
        }
        None => {
            let mut identities: Vec<ContactIdentity> = candidates
                .iter()
                .map(|candidate| candidate.identity.clone())
                .collect();
            contact::ensure_primaries(&mut identities);
            let display_name = match display_name.trim() {
                "" => contact::default_display_name(&identities),
                name => name.to_owned(),
            };
            Decision::New {
                identities,
                display_name,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;
    use crate::contact::ContactFields;
    use crate::ids::{ContactId, TenantId};

    fn region() -> Region {
        Region::parse("US").unwrap()
    }

    fn input(channel: Channel, address: &str) -> SenderInput {
        SenderInput {
            channel,
            address: address.into(),
            display_name: String::new(),
            email: String::new(),
            phone: String::new(),
            external_id: String::new(),
        }
    }

    fn contact_with(identities: &[(IdentityKind, &str)]) -> Contact {
        Contact {
            id: ContactId::from_uuid(Uuid::now_v7()),
            tenant_id: TenantId::from_uuid(Uuid::nil()),
            fields: ContactFields::default(),
            identities: identities
                .iter()
                .map(|(kind, value)| ContactIdentity {
                    kind: *kind,
                    value: (*value).into(),
                    raw: (*value).into(),
                    primary: true,
                })
                .collect(),
            tags: Vec::new(),
            tier: None,
            custom_fields: Default::default(),
            engagement: Default::default(),
            version: 1,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn candidates_come_in_matching_order_without_repeats() {
        let request = SenderInput {
            email: "Ana@Example.com".into(),
            phone: "+1 650 253 0000".into(),
            external_id: "crm-42".into(),
            ..input(Channel::Email, "ana@example.com")
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
        let whatsapp = candidates(&input(Channel::Whatsapp, "16502530000"), region()).unwrap();
        let sms = candidates(&input(Channel::Sms, "(650) 253-0000"), region()).unwrap();
        assert_eq!(whatsapp[0].identity.key(), sms[0].identity.key());
    }

    #[test]
    fn every_bad_field_is_named() {
        let request = SenderInput {
            email: "not-an-email".into(),
            phone: "12".into(),
            ..input(Channel::Email, "")
        };
        let DomainError::InvalidArgument(violations) = candidates(&request, region()).unwrap_err()
        else {
            panic!("expected invalid argument");
        };
        let named: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(named, ["address", "email", "phone"]);
    }

    #[test]
    fn the_highest_ranked_holder_wins() {
        let request = SenderInput {
            email: "ana@example.com".into(),
            ..input(Channel::Whatsapp, "16502530000")
        };
        let found = candidates(&request, region()).unwrap();
        let by_email = contact_with(&[(IdentityKind::Email, "ana@example.com")]);
        let by_phone = contact_with(&[(IdentityKind::Phone, "+16502530000")]);
        // Holders come back in any order; the address outranks the email hint.
        let decision = decide(&found, vec![by_email, by_phone.clone()], "");
        let Decision::Known {
            contact,
            matched_by,
            attach,
        } = decision
        else {
            panic!("expected a known contact");
        };
        assert_eq!(contact.id, by_phone.id);
        assert_eq!(matched_by, MatchedBy::Address);
        assert!(
            attach.is_empty(),
            "the email belongs to someone else: {attach:?}"
        );
    }

    #[test]
    fn free_hints_are_attached_and_become_primary_when_first_of_their_kind() {
        let request = SenderInput {
            email: "ana@example.com".into(),
            external_id: "crm-1".into(),
            ..input(Channel::Whatsapp, "16502530000")
        };
        let found = candidates(&request, region()).unwrap();
        let holder = contact_with(&[(IdentityKind::Phone, "+16502530000")]);
        let Decision::Known { attach, .. } = decide(&found, vec![holder], "") else {
            panic!("expected a known contact");
        };
        let attached: Vec<_> = attach.iter().map(|i| (i.kind, i.primary)).collect();
        assert_eq!(
            attached,
            [
                (IdentityKind::ExternalId, false),
                (IdentityKind::Email, true)
            ]
        );
    }

    #[test]
    fn a_contact_keeps_its_external_id() {
        let request = SenderInput {
            external_id: "new-id".into(),
            ..input(Channel::Email, "ana@example.com")
        };
        let found = candidates(&request, region()).unwrap();
        let holder = contact_with(&[
            (IdentityKind::Email, "ana@example.com"),
            (IdentityKind::ExternalId, "old-id"),
        ]);
        let Decision::Known { attach, .. } = decide(&found, vec![holder], "") else {
            panic!("expected a known contact");
        };
        assert!(attach.is_empty());
    }

    #[test]
    fn nobody_holding_anything_creates_with_every_address() {
        let request = SenderInput {
            email: "John.Doe@Example.com".into(),
            ..input(Channel::Instagram, "@JohnD")
        };
        let found = candidates(&request, region()).unwrap();
        let Decision::New {
            identities,
            display_name,
        } = decide(&found, Vec::new(), "  ")
        else {
            panic!("expected a new contact");
        };
        assert_eq!(display_name, "John.Doe");
        let kinds: Vec<_> = identities
            .iter()
            .map(|i| (i.kind, i.value.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (IdentityKind::Instagram, "johnd"),
                (IdentityKind::Email, "john.doe@example.com")
            ]
        );
        assert!(identities.iter().all(|i| i.primary));
    }

    #[test]
    fn a_given_display_name_is_kept() {
        let found = candidates(&input(Channel::Webchat, "visitor-1"), region()).unwrap();
        let Decision::New { display_name, .. } = decide(&found, Vec::new(), " Ana ") else {
            panic!("expected a new contact");
        };
        assert_eq!(display_name, "Ana");
    }
}
