//! Sender resolution's decision, as a pure rule: given the request's candidates
//! (see `identity::matching`) and the contacts that hold any of them, return a
//! known contact, attach new hints to it, or create a contact. The use case in
//! `service.rs` feeds it from the repository and applies the decision atomically.

use crate::contacts::Contact;
use crate::identity;
use crate::identity::ContactIdentity;
use crate::identity::IdentityKind;
use crate::identity::{Candidate, MatchedBy};

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
/// [`identity::MAX_IDENTITIES`] addresses takes no more.
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
                if contact.identities.len() + attach.len() >= identity::MAX_IDENTITIES {
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
            identity::ensure_primaries(&mut identities);
            let display_name = match display_name.trim() {
                "" => identity::default_display_name(&identities),
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
    use uuid::Uuid;

    use super::*;
    use crate::identity::{Channel, Region, SenderInput, candidates};
    use crate::kernel::{ContactId, TenantId};

    fn region() -> Region {
        Region::parse("US").unwrap()
    }

    fn contact_with(identities: &[(IdentityKind, &str)]) -> Contact {
        Contact {
            identities: identities
                .iter()
                .map(|(kind, value)| ContactIdentity {
                    kind: *kind,
                    value: (*value).into(),
                    raw: (*value).into(),
                    primary: true,
                })
                .collect(),
            ..Contact::for_tests(
                ContactId::from_uuid(Uuid::now_v7()),
                TenantId::from_uuid(Uuid::nil()),
            )
        }
    }

    #[test]
    fn the_highest_ranked_holder_wins() {
        let request = SenderInput {
            email: "ana@example.com".into(),
            ..SenderInput::address(Channel::Whatsapp, "16502530000")
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
            ..SenderInput::address(Channel::Whatsapp, "16502530000")
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
            ..SenderInput::address(Channel::Email, "ana@example.com")
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
            ..SenderInput::address(Channel::Instagram, "@JohnD")
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
        let found = candidates(
            &SenderInput::address(Channel::Webchat, "visitor-1"),
            region(),
        )
        .unwrap();
        let Decision::New { display_name, .. } = decide(&found, Vec::new(), " Ana ") else {
            panic!("expected a new contact");
        };
        assert_eq!(display_name, "Ana");
    }
}
