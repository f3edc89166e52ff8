//! The routing use case: ordering contacts and senders for a queue by tier,
//! so higher tiers are served first. It reads contacts (and the holders of
//! senders' addresses) and applies the pure order in `order.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::contacts::ContactRepository;
use crate::identity::{self, SenderInput};
use crate::kernel::{ContactId, DomainError, FieldViolation};
use crate::routing::{RoutingEntry, routing_order};
use crate::tenancy::Caller;
use crate::tiers::TierBadge;

/// Most subjects in one routing request.
pub const MAX_ROUTING_SUBJECTS: usize = 1000;

/// Whom a routing request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutingSubject {
    /// A contact by id.
    Contact(ContactId),
    /// Whoever holds this channel address (nobody, for a new sender).
    Sender(SenderInput),
}

/// Routing use cases.
#[derive(Clone)]
pub struct RoutingService {
    contacts: Arc<dyn ContactRepository>,
}

impl std::fmt::Debug for RoutingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutingService").finish_non_exhaustive()
    }
}

impl RoutingService {
    /// Wires the use case to its port.
    pub fn new(contacts: Arc<dyn ContactRepository>) -> Self {
        Self { contacts }
    }

    /// Orders contacts and senders for a queue by tier rank (see
    /// [`routing_order`]). Unknown contact ids and senders nobody holds
    /// are kept, last, so a queue can still place them.
    ///
    /// # Errors
    /// `InvalidArgument` naming each bad subject or when there are none or
    /// more than [`MAX_ROUTING_SUBJECTS`]; `Unavailable`; `Internal`.
    pub async fn routing_priority(
        &self,
        caller: &Caller,
        subjects: Vec<RoutingSubject>,
    ) -> Result<Vec<RoutingEntry>, DomainError> {
        let tenant = caller.tenant();
        if subjects.is_empty() || subjects.len() > MAX_ROUTING_SUBJECTS {
            return Err(DomainError::invalid(
                "subjects",
                format!("must hold 1 to {MAX_ROUTING_SUBJECTS} subjects"),
            ));
        }
        let mut violations = Vec::new();
        let mut contact_ids = Vec::new();
        let mut sender_keys = Vec::new();
        let mut subject_keys = Vec::with_capacity(subjects.len());
        for (index, subject) in subjects.iter().enumerate() {
            match subject {
                RoutingSubject::Contact(id) => {
                    contact_ids.push(*id);
                    subject_keys.push(Vec::new());
                }
                RoutingSubject::Sender(input) => {
                    match identity::candidates(input, tenant.default_region) {
                        Ok(candidates) => {
                            let keys = identity::keys(&candidates);
                            sender_keys.extend(keys.iter().cloned());
                            subject_keys.push(keys);
                        }
                        Err(DomainError::InvalidArgument(found)) => {
                            violations.extend(found.into_iter().map(|violation| {
                                FieldViolation::new(
                                    format!("subjects[{index}].sender.{}", violation.field),
                                    violation.description,
                                )
                            }));
                            subject_keys.push(Vec::new());
                        }
                        Err(other) => return Err(other),
                    }
                }
            }
        }
        if !violations.is_empty() {
            return Err(DomainError::InvalidArgument(violations));
        }
        let mut tiers: HashMap<ContactId, Option<TierBadge>> = HashMap::new();
        if !contact_ids.is_empty() {
            tiers.extend(self.contacts.tiers_of(tenant.id, &contact_ids).await?);
        }
        sender_keys.sort();
        sender_keys.dedup();
        let holders = if sender_keys.is_empty() {
            Vec::new()
        } else {
            // Up to 4 keys per sender, 1000 senders: the bulk read, whose
            // statement no number of keys within the limits can break.
            self.contacts
                .find_many_by_identities(tenant.id, &sender_keys)
                .await?
        };
        let entries = subjects
            .iter()
            .zip(subject_keys)
            .enumerate()
            .map(|(index, (subject, keys))| {
                let (contact, tier) = match subject {
                    RoutingSubject::Contact(id) => match tiers.get(id) {
                        Some(tier) => (Some(*id), tier.clone()),
                        None => (None, None),
                    },
                    RoutingSubject::Sender(_) => keys
                        .iter()
                        .find_map(|key| {
                            holders.iter().find(|holder| {
                                holder.identities.iter().any(|held| &held.key() == key)
                            })
                        })
                        .map_or((None, None), |holder| {
                            (Some(holder.id), holder.tier.clone())
                        }),
                };
                RoutingEntry {
                    index,
                    contact,
                    tier,
                }
            })
            .collect();
        Ok(routing_order(entries))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::tenancy::Tenant;

    use uuid::Uuid;

    use super::*;
    use crate::contacts::MockContactRepository;
    use crate::identity::Channel;

    #[tokio::test]
    async fn routing_reports_bad_senders_at_their_index() {
        let subjects = vec![
            RoutingSubject::Contact(ContactId::from_uuid(Uuid::now_v7())),
            RoutingSubject::Sender(SenderInput::address(Channel::Email, "not an email")),
        ];
        let error = RoutingService::new(Arc::new(MockContactRepository::new()))
            .routing_priority(&Caller::tenant_key(Tenant::for_tests()), subjects)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, DomainError::InvalidArgument(v) if v[0].field == "subjects[1].sender.address"),
            "{error:?}"
        );
    }
}
