//! Organization use cases: defining organizations with their domains and
//! custom values, and linking the contacts at a newly owned domain.
//! Membership changes are contact changes (`ContactService::join_organization`
//! and `leave_organization`).

use crate::identity;
use crate::organizations;
use std::sync::Arc;

use crate::fields::CustomFieldRepository;
use crate::fields::{CustomValues, FieldEntity, ValueChanges};
use crate::kernel::OrganizationId;
use crate::kernel::Page;
use crate::kernel::{Attempt, retry, stale_unless_expected};
use crate::kernel::{Clock, IdGenerator};
use crate::kernel::{DomainError, Entity};
use crate::organizations::OrganizationRepository;
use crate::organizations::{Organization, OrganizationFields};
use crate::tenancy::{Caller, Tenant};

/// A new organization as a caller describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrganizationDraft {
    /// Name, domains, description.
    pub fields: OrganizationFields,
    /// Custom-field values.
    pub custom_fields: ValueChanges,
}

/// Changes to an organization; `None` leaves a part as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrganizationPatch {
    /// New name.
    pub name: Option<String>,
    /// New domain list (replaces the old one).
    pub domains: Option<Vec<String>>,
    /// New description.
    pub description: Option<String>,
    /// Custom-field values to set or clear.
    pub custom_fields: Option<ValueChanges>,
}

/// Organization use cases.
#[derive(Clone)]
pub struct OrganizationService {
    organizations: Arc<dyn OrganizationRepository>,
    fields: Arc<dyn CustomFieldRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for OrganizationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrganizationService")
            .finish_non_exhaustive()
    }
}

fn not_found(id: OrganizationId) -> DomainError {
    DomainError::NotFound {
        entity: Entity::Organization,
        id: id.to_string(),
    }
}

/// The domains of `fields` that are new against `before` and may auto-link.
fn linking(fields: &OrganizationFields, before: &[String], tenant: &Tenant) -> Vec<String> {
    fields
        .domains
        .iter()
        .filter(|domain| !before.contains(domain))
        .filter(|domain| !identity::is_free_mail(domain, &tenant.free_mail_domains))
        .cloned()
        .collect()
}

impl OrganizationService {
    /// Wires the use cases to their ports.
    pub fn new(
        organizations: Arc<dyn OrganizationRepository>,
        fields: Arc<dyn CustomFieldRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            organizations,
            fields,
            clock,
            ids,
        }
    }

    async fn values(
        &self,
        tenant: &Tenant,
        current: &CustomValues,
        changes: &ValueChanges,
        creating: bool,
    ) -> Result<CustomValues, DomainError> {
        crate::fields::apply_record_values(
            self.fields.as_ref(),
            tenant,
            FieldEntity::Organization,
            current,
            changes,
            creating,
        )
        .await
    }

    /// Creates an organization and links the unaffiliated contacts with an
    /// email at its (non-free-mail) domains.
    ///
    /// # Errors
    /// `InvalidArgument`; `AlreadyExists` for a domain another organization
    /// owns; `Unavailable`; `Internal`.
    pub async fn create(
        &self,
        caller: &Caller,
        draft: OrganizationDraft,
    ) -> Result<Organization, DomainError> {
        let tenant = caller.tenant();
        let fields = organizations::validate(draft.fields, &[], &tenant.free_mail_domains);
        let values = self
            .values(tenant, &CustomValues::new(), &draft.custom_fields, true)
            .await;
        let (fields, custom_fields) = match (fields, values) {
            (Ok(fields), Ok(values)) => (fields, values),
            (Err(DomainError::InvalidArgument(mut a)), Err(DomainError::InvalidArgument(b))) => {
                a.extend(b);
                return Err(DomainError::InvalidArgument(a));
            }
            (Err(error), _) | (_, Err(error)) => return Err(error),
        };
        let now = self.clock.now();
        let link = linking(&fields, &[], tenant);
        let created = Organization {
            id: OrganizationId::from_uuid(self.ids.new_id()),
            tenant_id: tenant.id,
            fields,
            custom_fields,
            member_count: 0,
            version: 1,
            create_time: now,
            update_time: now,
        };
        self.organizations.create(&created, &link).await
    }

    /// Reads one organization.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn get(
        &self,
        caller: &Caller,
        id: OrganizationId,
    ) -> Result<Organization, DomainError> {
        let tenant = caller.tenant();
        self.organizations
            .get(tenant.id, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// Lists organizations by id, after a cursor.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn list(
        &self,
        caller: &Caller,
        after: Option<OrganizationId>,
        page_size: u32,
    ) -> Result<Page<Organization, OrganizationId>, DomainError> {
        let tenant = caller.tenant();
        let items = self
            .organizations
            .list(tenant.id, after, crate::kernel::overfetch(page_size))
            .await?;
        Ok(Page::from_overfetch(items, page_size, |organization| {
            organization.id
        }))
    }

    /// Applies a patch; domains it adds pick up the unaffiliated contacts there.
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound`; `Stale`; `AlreadyExists`; `Contention`;
    /// `Unavailable`; `Internal`.
    pub async fn update(
        &self,
        caller: &Caller,
        id: OrganizationId,
        patch: OrganizationPatch,
        expected_version: Option<i64>,
    ) -> Result<Organization, DomainError> {
        let tenant = caller.tenant();
        let patch = &patch;
        retry("organization", || async move {
            let current = self.get(caller, id).await?;
            if expected_version.is_some_and(|version| version != current.version) {
                return Err(DomainError::Stale {
                    entity: Entity::Organization,
                    id: id.to_string(),
                });
            }
            let mut fields = current.fields.clone();
            if let Some(name) = &patch.name {
                fields.name.clone_from(name);
            }
            if let Some(domains) = &patch.domains {
                fields.domains.clone_from(domains);
            }
            if let Some(description) = &patch.description {
                fields.description.clone_from(description);
            }
            let fields = organizations::validate(
                fields,
                &current.fields.domains,
                &tenant.free_mail_domains,
            )?;
            let custom_fields = match &patch.custom_fields {
                Some(changes) => {
                    self.values(tenant, &current.custom_fields, changes, false)
                        .await?
                }
                None => current.custom_fields.clone(),
            };
            let link = linking(&fields, &current.fields.domains, tenant);
            let updated = Organization {
                fields,
                custom_fields,
                update_time: self.clock.now(),
                ..current.clone()
            };
            Attempt::again_if(
                self.organizations
                    .update(&updated, current.version, &link)
                    .await,
                stale_unless_expected(expected_version),
            )
        })
        .await
    }

    /// Deletes an organization; its members become unaffiliated.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    pub async fn delete(
        &self,
        caller: &Caller,
        id: OrganizationId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError> {
        let tenant = caller.tenant();
        self.organizations
            .delete(tenant.id, id, expected_version, self.clock.now())
            .await
    }
}
