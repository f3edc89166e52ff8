//! Contact use cases: CRUD, identities, tags, tier and organization
//! membership, and sender resolution. Each computes what to write as plain data
//! and hands it to one repository call that applies it atomically.

use super::update::diff;
use crate::contacts;
use crate::contacts::plan_update;
use crate::fields;
use crate::identity;
use crate::kernel::Precondition;
use crate::kernel::tag;
use crate::kernel::{Attempt, retry, stale_unless_expected};
use crate::organizations;
use std::sync::Arc;

use crate::contacts::Decision;
use crate::contacts::{
    COUNT_CAP, ContactCursor, ContactFilter, ContactRepository, CreateOutcome, ResolvedCreate,
    UntypedField,
};
use crate::contacts::{Contact, ContactFields, LifecycleStage};
use crate::fields::{CustomFieldRepository, DefinitionsFor};
use crate::fields::{CustomValues, FieldEntity, ValueChanges};
use crate::identity::{ContactIdentity, IdentityInput, IdentityKey};
use crate::identity::{IdentityKind, Region};
use crate::identity::{MatchedBy, SenderInput};
use crate::kernel::Page;
use crate::kernel::RecordRef;
use crate::kernel::{Clock, IdGenerator};
use crate::kernel::{ContactId, OrganizationId, RequestId, TenantId, TierId};
use crate::kernel::{DomainError, Entity};
use crate::organizations::Affiliation;
use crate::organizations::OrganizationRepository;
use crate::tenancy::{Caller, Tenant};
use crate::tiers::Tier;
use crate::tiers::TierRepository;

/// A new contact as a caller describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactDraft {
    /// The describing fields.
    pub fields: ContactFields,
    /// Every address, external id included, with request paths.
    pub identities: Vec<IdentityInput>,
    /// Tags as the caller wrote them (at `contact.tags[i]`).
    pub tags: Vec<String>,
    /// Custom-field values (at `contact.custom_fields.KEY`).
    pub custom_fields: ValueChanges,
}

/// Changes to a contact; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactPatch {
    /// New display name; empty means the default derived from the addresses.
    pub display_name: Option<String>,
    /// New city.
    pub city: Option<String>,
    /// New country.
    pub country: Option<String>,
    /// New language.
    pub language: Option<String>,
    /// New avatar URL.
    pub avatar_url: Option<String>,
    /// New blocked flag.
    pub blocked: Option<bool>,
    /// New lifecycle stage.
    pub lifecycle_stage: Option<LifecycleStage>,
    /// Replacement email list.
    pub emails: Option<Vec<IdentityInput>>,
    /// Replacement phone list.
    pub phones: Option<Vec<IdentityInput>>,
    /// Replacement list of channel identities (kinds other than email, phone, external id).
    pub channel_identities: Option<Vec<IdentityInput>>,
    /// New external id; `Some` of an empty input value clears it.
    pub external_id: Option<IdentityInput>,
    /// New tier; `Some(None)` takes the contact off its tier.
    pub tier_id: Option<Option<TierId>>,
    /// Replacement tag set, as the caller wrote it (at `contact.tags[i]`).
    pub tags: Option<Vec<String>>,
    /// Custom-field values to set or clear.
    pub custom_fields: Option<ValueChanges>,
    /// New affiliation: `Manual` links by hand, `Detached` unlinks by hand.
    pub affiliation: Option<Affiliation>,
}

/// What ResolveSender found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The contact the sender is.
    pub contact: Contact,
    /// Whether this call created it.
    pub created: bool,
    /// Which address found it; `None` when created.
    pub matched_by: Option<MatchedBy>,
}

/// Contact use cases.
#[derive(Clone)]
pub struct ContactService {
    contacts: Arc<dyn ContactRepository>,
    tiers: Arc<dyn TierRepository>,
    fields: Arc<dyn CustomFieldRepository>,
    organizations: Arc<dyn OrganizationRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for ContactService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactService").finish_non_exhaustive()
    }
}

impl ContactService {
    /// Wires the use cases to their ports.
    pub fn new(
        contacts: Arc<dyn ContactRepository>,
        tiers: Arc<dyn TierRepository>,
        fields: Arc<dyn CustomFieldRepository>,
        organizations: Arc<dyn OrganizationRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            contacts,
            tiers,
            fields,
            organizations,
            clock,
            ids,
        }
    }

    /// The tier a request field names.
    ///
    /// # Errors
    /// `InvalidArgument` on `field` when the tenant has no such tier.
    async fn named_tier(
        &self,
        tenant: &Tenant,
        id: TierId,
        field: &str,
    ) -> Result<Tier, DomainError> {
        self.tiers
            .get(tenant.id, id)
            .await?
            .ok_or_else(|| DomainError::invalid(field, format!("no tier {id} in this tenant")))
    }

    /// The organization a request field names.
    ///
    /// # Errors
    /// `InvalidArgument` on `field` when the tenant has no such organization.
    async fn named_organization(
        &self,
        tenant: &Tenant,
        id: OrganizationId,
        field: &str,
    ) -> Result<(), DomainError> {
        match self.organizations.get(tenant.id, id).await? {
            Some(_) => Ok(()),
            None => Err(DomainError::invalid(
                field,
                format!("no organization {id} in this tenant"),
            )),
        }
    }

    /// The organization a call is about (`AddOrganizationMember`, ...).
    ///
    /// # Errors
    /// `NotFound` when the tenant has no such organization.
    async fn existing_organization(
        &self,
        tenant: &Tenant,
        id: OrganizationId,
    ) -> Result<(), DomainError> {
        match self.organizations.get(tenant.id, id).await? {
            Some(_) => Ok(()),
            None => Err(RecordRef::Organization(id).not_found()),
        }
    }

    /// The organization that emails at these (normalised) addresses
    /// auto-link to, if any.
    async fn auto_organization<'a>(
        &self,
        tenant: &Tenant,
        emails: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<OrganizationId>, DomainError> {
        let domains = organizations::auto_link_domains(emails, &tenant.free_mail_domains);
        if domains.is_empty() {
            return Ok(None);
        }
        self.organizations
            .find_by_domains(tenant.id, &domains)
            .await
    }

    /// Creates a contact, or returns the one an earlier call with the same
    /// request id created.
    ///
    /// # Errors
    /// `InvalidArgument`; `IdentityTaken` naming the request field and holder;
    /// `Unavailable`; `Internal`.
    pub async fn create(
        &self,
        caller: &Caller,
        draft: ContactDraft,
        request_id: Option<RequestId>,
    ) -> Result<Contact, DomainError> {
        let tenant = caller.tenant();
        let fields = contacts::validate_fields(draft.fields);
        let identities =
            identity::normalize_identities(draft.identities.clone(), tenant.default_region);
        let (fields, identities) = merge_violations(fields, identities)?;
        let (mut fields, mut tags) =
            merge_violations(Ok(fields), tag::normalize_tags(&draft.tags, "tags"))?;
        if fields.display_name.is_empty() {
            fields.display_name = identity::default_display_name(&identities);
        }
        let tier = match fields.tier_id {
            Some(id) => Some(self.named_tier(tenant, id, "tier_id").await?),
            None => None,
        };
        if let Some(tier) = &tier {
            tags = tag::union(&tags, &tier.fields.auto_tags);
        }
        match fields.affiliation {
            Affiliation::Manual(org) => {
                self.named_organization(tenant, org, "organization_id")
                    .await?;
            }
            Affiliation::None => {
                let emails = identities
                    .iter()
                    .filter(|i| i.kind == IdentityKind::Email)
                    .map(|i| i.value.as_str());
                if let Some(org) = self.auto_organization(tenant, emails).await? {
                    fields.affiliation = Affiliation::Auto(org);
                }
            }
            Affiliation::Auto(_) | Affiliation::Detached => {}
        }
        let keys = draft
            .custom_fields
            .values
            .iter()
            .map(|(key, _)| key.clone())
            .collect();
        let definitions = self
            .fields
            .definitions_for(
                tenant.id,
                FieldEntity::Contact,
                DefinitionsFor::Create(keys),
            )
            .await?;
        let custom_fields = fields::apply_values(
            &CustomValues::new(),
            &draft.custom_fields,
            &definitions,
            true,
            tenant.default_region,
        )
        .map_err(DomainError::InvalidArgument)?;
        let now = self.clock.now();
        let contact = Contact {
            id: ContactId::from_uuid(self.ids.new_id()),
            tenant_id: tenant.id,
            fields,
            identities,
            tags,
            tier: tier.map(|tier| tier.badge()),
            custom_fields,
            engagement: Default::default(),
            version: 1,
            create_time: now,
            update_time: now,
        };
        match self
            .contacts
            .create(&contact, request_id.map(RequestId::into_string))
            .await
            .map_err(|error| locate_taken(error, &draft.identities, tenant.default_region))?
        {
            CreateOutcome::Created(contact) => Ok(*contact),
            CreateOutcome::Replayed(id) => self.get(caller, id).await,
        }
    }

    /// Reads one contact.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn get(&self, caller: &Caller, id: ContactId) -> Result<Contact, DomainError> {
        let tenant = caller.tenant();
        let found = self.contacts.get(tenant.id, id).await?;
        self.settle(
            tenant.id,
            found.ok_or_else(|| DomainError::contact_not_found(id)),
        )
        .await
    }

    /// `result`, with a contact's `NotFound` turned into `MergedAway` when
    /// the contact was merged into another: the one rule for an id that
    /// names a merged-away contact (every call but the reads that follow
    /// merges).
    ///
    /// # Errors
    /// `result`'s error, explained; `Unavailable`; `Internal`.
    pub async fn settle<T>(
        &self,
        tenant: TenantId,
        result: Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        match result {
            Ok(value) => Ok(value),
            Err(error) => Err(error
                .or_merged(|id| self.contacts.merged_into(tenant, id))
                .await),
        }
    }

    /// Types the custom-field restrictions of `expression` by their
    /// fields' definitions (one read, only when it names a field not typed
    /// yet).
    ///
    /// # Errors
    /// [`UntypedField`] for a key no contact field has or a value that does
    /// not fit; `Unavailable` and `Internal` as `UntypedField::Invalid`.
    pub async fn type_filter(
        &self,
        caller: &Caller,
        expression: &mut contacts::Filter,
    ) -> Result<(), UntypedField> {
        let keys = expression.untyped_custom_keys();
        if keys.is_empty() {
            return Ok(());
        }
        let tenant = caller.tenant();
        let definitions = self
            .fields
            .definitions_for(tenant.id, FieldEntity::Contact, DefinitionsFor::Keys(keys))
            .await
            .map_err(UntypedField::Invalid)?;
        expression.type_custom_fields(&definitions, tenant.default_region)
    }

    /// `filter` with its expression typed (a copy only when it needs typing).
    async fn typed<'f>(
        &self,
        caller: &Caller,
        filter: &'f ContactFilter,
    ) -> Result<std::borrow::Cow<'f, ContactFilter>, DomainError> {
        match &filter.expression {
            Some(expression) if !expression.untyped_custom_keys().is_empty() => {
                let mut typed = filter.clone();
                if let Some(expression) = typed.expression.as_mut() {
                    self.type_filter(caller, expression)
                        .await
                        .map_err(UntypedField::into_error)?;
                }
                Ok(std::borrow::Cow::Owned(typed))
            }
            _ => Ok(std::borrow::Cow::Borrowed(filter)),
        }
    }

    /// How many contacts pass `filter`: exact up to [`COUNT_CAP`], and
    /// `(COUNT_CAP, true)` ("at least") beyond it.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn count(
        &self,
        caller: &Caller,
        filter: &ContactFilter,
    ) -> Result<(u64, bool), DomainError> {
        let filter = self.typed(caller, filter).await?;
        let counted = self
            .contacts
            .count(caller.tenant().id, &filter, COUNT_CAP)
            .await?;
        Ok(if counted > COUNT_CAP {
            (COUNT_CAP, true)
        } else {
            (counted, false)
        })
    }

    /// How many contacts pass `filter`, exactly, however many (for an
    /// export, which reads them all anyway).
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn count_exactly(
        &self,
        caller: &Caller,
        filter: &ContactFilter,
    ) -> Result<u64, DomainError> {
        let filter = self.typed(caller, filter).await?;
        self.contacts
            .count(caller.tenant().id, &filter, u64::MAX - 1)
            .await
    }

    /// Where the next `pages` pages of `step` contacts passing `filter`
    /// after `after` end, in id order (see `ContactRepository::page_ends`).
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn page_ends(
        &self,
        caller: &Caller,
        filter: &ContactFilter,
        after: Option<ContactId>,
        step: u32,
        pages: u32,
    ) -> Result<Vec<ContactId>, DomainError> {
        let filter = self.typed(caller, filter).await?;
        self.contacts
            .page_ends(caller.tenant().id, &filter, after, step, pages)
            .await
    }

    /// Lists contacts that pass `filter` in its order, after a cursor.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn list(
        &self,
        caller: &Caller,
        filter: &ContactFilter,
        after: Option<ContactCursor>,
        page_size: u32,
    ) -> Result<Page<Contact, ContactCursor>, DomainError> {
        let tenant = caller.tenant();
        let filter = self.typed(caller, filter).await?;
        let items = self
            .contacts
            .list(
                tenant.id,
                &filter,
                after,
                crate::kernel::overfetch(page_size),
            )
            .await?;
        Ok(Page::from_overfetch(items, page_size, |contact| {
            filter.order.cursor(contact)
        }))
    }

    /// Applies a patch. With `expected_version`, a contact changed since gets
    /// `Stale`; without, a concurrent change is re-read and the patch applied
    /// again on top of it, so no write is silently lost.
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound`; `Stale`; `IdentityTaken`; `Unavailable`;
    /// `Contention`; `Internal`. Paths are relative to the patch (`tier_id`,
    /// `emails[0].address`); the adapter scopes them.
    pub async fn update(
        &self,
        caller: &Caller,
        id: ContactId,
        patch: ContactPatch,
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
        let tenant = caller.tenant();
        let inputs: Vec<IdentityInput> = [&patch.emails, &patch.phones, &patch.channel_identities]
            .into_iter()
            .flatten()
            .flatten()
            .cloned()
            .chain(patch.external_id.clone())
            .collect();
        let tier = match patch.tier_id {
            Some(Some(tier)) => Some(self.named_tier(tenant, tier, "tier_id").await?),
            _ => None,
        };
        let auto_org = match patch.affiliation {
            Some(Affiliation::Manual(org)) => {
                self.named_organization(tenant, org, "organization_id")
                    .await?;
                None
            }
            Some(_) => None,
            None => {
                let emails: Vec<String> = patch
                    .emails
                    .iter()
                    .flatten()
                    .filter_map(|input| identity::normalize_email(&input.raw).ok())
                    .collect();
                self.auto_organization(tenant, emails.iter().map(String::as_str))
                    .await?
            }
        };
        let definitions = match &patch.custom_fields {
            Some(changes) => {
                let keys: Vec<String> = changes.values.iter().map(|(key, _)| key.clone()).collect();
                let wanted = if changes.replace_all {
                    DefinitionsFor::KeysAndRequired(keys)
                } else {
                    DefinitionsFor::Keys(keys)
                };
                self.fields
                    .definitions_for(tenant.id, FieldEntity::Contact, wanted)
                    .await?
            }
            None => Vec::new(),
        };
        let definitions = &definitions;
        let inputs = &inputs;
        let patch = &patch;
        let tier = &tier;
        let result = retry("contact", || async move {
            let current = self.get(caller, id).await?;
            check_version(&current, expected_version)?;
            let change = plan_update(
                &current,
                patch,
                tier.as_ref(),
                definitions,
                auto_org,
                tenant.default_region,
                self.clock.now(),
            )?;
            let result = self.contacts.update(&change).await;
            Attempt::again_if(result, stale_unless_expected(expected_version))
                .map_err(|error| locate_taken(error, inputs, tenant.default_region))
        })
        .await;
        self.settle(tenant.id, result).await
    }

    /// Deletes a contact and frees its addresses.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    pub async fn delete(
        &self,
        caller: &Caller,
        id: ContactId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError> {
        let tenant = caller.tenant();
        let result = self.contacts.delete(tenant.id, id, expected_version).await;
        self.settle(tenant.id, result).await
    }

    /// Adds one address to a contact. Adding an address it already holds
    /// changes nothing (except the primary flag, when asked).
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound`; `Stale`; `IdentityTaken`; `Unavailable`;
    /// `Contention`; `Internal`.
    pub async fn add_identity(
        &self,
        caller: &Caller,
        id: ContactId,
        input: IdentityInput,
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
        let tenant = caller.tenant();
        let normalized = identity::normalize(input.kind, &input.raw, tenant.default_region)
            .map_err(|error| DomainError::invalid(input.field.clone(), error.to_string()))?;
        let added = ContactIdentity {
            kind: normalized.kind,
            value: normalized.value,
            raw: normalized.raw,
            primary: input.primary,
        };
        let auto_org = if added.kind == IdentityKind::Email {
            self.auto_organization(tenant, [added.value.as_str()])
                .await?
        } else {
            None
        };
        self.change_identities(
            caller,
            id,
            expected_version,
            std::slice::from_ref(&input),
            auto_org,
            |identities| {
                let kind = added.kind;
                match identities.iter_mut().find(|held| held.key() == added.key()) {
                    Some(held) => held.primary |= added.primary,
                    None => identities.push(added.clone()),
                }
                if added.primary {
                    for other in identities
                        .iter_mut()
                        .filter(|i| i.kind == kind && i.key() != added.key())
                    {
                        other.primary = false;
                    }
                }
                Ok(())
            },
        )
        .await
    }

    /// Removes one address from a contact. When it was the primary of its
    /// kind, the next of that kind becomes primary.
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound` (contact or identity); `Stale`;
    /// `Unavailable`; `Contention`; `Internal`.
    pub async fn remove_identity(
        &self,
        caller: &Caller,
        id: ContactId,
        input: IdentityInput,
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
        let tenant = caller.tenant();
        let normalized = identity::normalize(input.kind, &input.raw, tenant.default_region)
            .map_err(|error| DomainError::invalid(input.field.clone(), error.to_string()))?;
        let key = IdentityKey {
            kind: normalized.kind,
            value: normalized.value,
        };
        self.change_identities(caller, id, expected_version, &[], None, |identities| {
            let before = identities.len();
            identities.retain(|held| held.key() != key);
            if identities.len() == before {
                return Err(DomainError::NotFound {
                    entity: Entity::Identity,
                    id: format!("{}:{}", key.kind.as_str(), key.value),
                });
            }
            Ok(())
        })
        .await
    }

    /// Adds tags to a contact (normalised; tags it has already change nothing).
    ///
    /// # Errors
    /// `InvalidArgument` naming each bad tag (at `tags[i]`); `NotFound`;
    /// `Stale`; `Unavailable`; `Contention`; `Internal`.
    pub async fn add_tags(
        &self,
        caller: &Caller,
        id: ContactId,
        tags: &[String],
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
        let added = tag::normalize_tags(tags, "tags")?;
        self.change_tags(caller, id, expected_version, |held| {
            tag::union(held, &added)
        })
        .await
    }

    /// Removes tags from a contact; tags it does not have are ignored.
    ///
    /// # Errors
    /// `InvalidArgument` naming each bad tag (at `tags[i]`); `NotFound`;
    /// `Stale`; `Unavailable`; `Contention`; `Internal`.
    pub async fn remove_tags(
        &self,
        caller: &Caller,
        id: ContactId,
        tags: &[String],
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
        let removed = tag::normalize_tags(tags, "tags")?;
        self.change_tags(caller, id, expected_version, |held| {
            held.iter()
                .filter(|tag| !removed.contains(tag))
                .cloned()
                .collect()
        })
        .await
    }

    async fn change_tags(
        &self,
        caller: &Caller,
        id: ContactId,
        expected_version: Option<i64>,
        edit: impl Fn(&[String]) -> Vec<String>,
    ) -> Result<Contact, DomainError> {
        let edit = &edit;
        let result = retry("contact", || async move {
            let current = self.get(caller, id).await?;
            check_version(&current, expected_version)?;
            let tags = edit(&current.tags);
            if tags.len() > tag::MAX_TAGS {
                return Err(DomainError::invalid(
                    "tags",
                    format!("a contact may hold at most {} tags", tag::MAX_TAGS),
                ));
            }
            if tags == current.tags {
                return Ok(Attempt::Done(current));
            }
            let change = diff(
                &current,
                current.fields.clone(),
                current.identities.clone(),
                tags,
                current.custom_fields.clone(),
                self.clock.now(),
            );
            Attempt::again_if(
                self.contacts.update(&change).await,
                stale_unless_expected(expected_version),
            )
        })
        .await;
        self.settle(caller.tenant().id, result).await
    }

    /// Puts a contact on a tier (adding the tier's auto-tags) or, with
    /// `None`, takes it off its tier.
    ///
    /// # Errors
    /// `InvalidArgument` on `tier_id` for an unknown tier; `NotFound`;
    /// `Stale`; `Unavailable`; `Contention`; `Internal`.
    pub async fn set_tier(
        &self,
        caller: &Caller,
        id: ContactId,
        tier: Option<TierId>,
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
        let patch = ContactPatch {
            tier_id: Some(tier),
            ..ContactPatch::default()
        };
        self.update(caller, id, patch, expected_version).await
    }

    /// Links a contact to an organization by hand (moving it out of any other).
    ///
    /// # Errors
    /// `NotFound` for an unknown organization or contact; `MergedAway`;
    /// `Stale`; `Unavailable`; `Contention`; `Internal`.
    pub async fn join_organization(
        &self,
        caller: &Caller,
        id: ContactId,
        organization: OrganizationId,
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
        self.existing_organization(caller.tenant(), organization)
            .await?;
        let patch = ContactPatch {
            affiliation: Some(Affiliation::Manual(organization)),
            ..ContactPatch::default()
        };
        self.update(caller, id, patch, expected_version).await
    }

    /// Takes a contact out of an organization by hand; it is not linked
    /// automatically again.
    ///
    /// # Errors
    /// `FailedPrecondition` when it is not a member; `NotFound` for an
    /// unknown organization or contact; `MergedAway`; `Stale`;
    /// `Unavailable`; `Contention`; `Internal`.
    pub async fn leave_organization(
        &self,
        caller: &Caller,
        id: ContactId,
        organization: OrganizationId,
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
        self.existing_organization(caller.tenant(), organization)
            .await?;
        let current = self.get(caller, id).await?;
        check_version(&current, expected_version)?;
        if current.fields.affiliation.organization() != Some(organization) {
            return Err(DomainError::FailedPrecondition(Precondition::NotAMember {
                contact: id,
                organization,
            }));
        }
        let patch = ContactPatch {
            affiliation: Some(Affiliation::Detached),
            ..ContactPatch::default()
        };
        self.update(caller, id, patch, Some(current.version)).await
    }

    async fn change_identities(
        &self,
        caller: &Caller,
        id: ContactId,
        expected_version: Option<i64>,
        inputs: &[IdentityInput],
        auto_org: Option<OrganizationId>,
        edit: impl Fn(&mut Vec<ContactIdentity>) -> Result<(), DomainError>,
    ) -> Result<Contact, DomainError> {
        let tenant = caller.tenant();
        let edit = &edit;
        let result = retry("contact", || async move {
            let current = self.get(caller, id).await?;
            check_version(&current, expected_version)?;
            let mut identities = current.identities.clone();
            edit(&mut identities)?;
            if identities.len() > identity::MAX_IDENTITIES {
                return Err(DomainError::invalid(
                    "",
                    format!(
                        "a contact may hold at most {} addresses",
                        identity::MAX_IDENTITIES
                    ),
                ));
            }
            identity::ensure_primaries(&mut identities);
            let mut fields = current.fields.clone();
            if let Some(org) = auto_org
                && fields.affiliation == Affiliation::None
            {
                fields.affiliation = Affiliation::Auto(org);
            }
            let change = diff(
                &current,
                fields,
                identities,
                current.tags.clone(),
                current.custom_fields.clone(),
                self.clock.now(),
            );
            let result = self.contacts.update(&change).await;
            Attempt::again_if(result, stale_unless_expected(expected_version))
                .map_err(|error| locate_taken(error, inputs, tenant.default_region))
        })
        .await;
        self.settle(tenant.id, result).await
    }

    /// Finds the contact a sender is, creating it the first time.
    ///
    /// Reads the holders of every address in the request in one round trip;
    /// a known sender with nothing new to attach costs exactly that read.
    /// Creation inserts the contact with all its addresses or nothing; when
    /// another writer got there first, resolution reads again and finds it.
    ///
    /// # Errors
    /// `InvalidArgument` naming the bad field; `Unavailable`; `Contention`
    /// after [`ATTEMPTS`](crate::kernel::ATTEMPTS) lost races; `Internal`.
    pub async fn resolve_sender(
        &self,
        caller: &Caller,
        input: SenderInput,
    ) -> Result<Resolution, DomainError> {
        let tenant = caller.tenant();
        let sender = Sender::prepare(tenant, input)?;
        self.resolve_prepared(tenant, &sender, None).await
    }

    /// [`ContactService::resolve_sender`] for a batch of senders (1 to
    /// [`MAX_SENDERS_PER_BATCH`]), one resolution per sender in order.
    ///
    /// Every sender is validated before anything is read, and the holders of
    /// every address in the batch are read together, so a batch of known
    /// senders costs one read. Senders that are new, or bring an address to
    /// attach, then go one by one as `resolve_sender` would; a sender twice
    /// in one batch resolves to one contact. Not atomic across senders:
    /// when one fails (contention, an outage), those before it stay
    /// resolved, and a retry of the whole batch is safe, since resolving is
    /// idempotent.
    ///
    /// # Errors
    /// `InvalidArgument` naming `senders[i]` fields, every bad one at once,
    /// or `senders` when there are none or too many; as `resolve_sender`.
    pub async fn resolve_senders(
        &self,
        caller: &Caller,
        inputs: Vec<SenderInput>,
    ) -> Result<Vec<Resolution>, DomainError> {
        DomainError::check_count("senders", inputs.len(), MAX_SENDERS_PER_BATCH, "senders")?;
        if inputs.is_empty() {
            return Err(DomainError::invalid("senders", "name at least one sender"));
        }
        let tenant = caller.tenant();
        let mut violations = Vec::new();
        let mut senders = Vec::with_capacity(inputs.len());
        for (index, input) in inputs.into_iter().enumerate() {
            match Sender::prepare(tenant, input) {
                Ok(sender) => senders.push(sender),
                Err(error) => match error.scoped(&format!("senders[{index}]")) {
                    DomainError::InvalidArgument(found) => violations.extend(found),
                    other => return Err(other),
                },
            }
        }
        if !violations.is_empty() {
            return Err(DomainError::InvalidArgument(violations));
        }
        let key_sets: Vec<Vec<IdentityKey>> =
            senders.iter().map(|sender| sender.keys.clone()).collect();
        let holders = self
            .contacts
            .find_by_identities_each(tenant.id, &key_sets)
            .await?;
        let mut resolutions = Vec::with_capacity(senders.len());
        for (sender, holders) in senders.iter().zip(holders) {
            resolutions.push(self.resolve_prepared(tenant, sender, Some(holders)).await?);
        }
        Ok(resolutions)
    }

    /// Resolves a validated sender; `read` is its holders when the caller
    /// has just read them (the first attempt then reads nothing).
    async fn resolve_prepared(
        &self,
        tenant: &Tenant,
        sender: &Sender,
        read: Option<Vec<Contact>>,
    ) -> Result<Resolution, DomainError> {
        let read = std::sync::Mutex::new(read);
        let read = &read;
        let candidates = &sender.candidates;
        let input = &sender.input;
        let keys = &sender.keys;
        retry("sender resolution", || async move {
            let already = read
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            let holders = match already {
                Some(holders) => holders,
                None => self.contacts.find_by_identities(tenant.id, keys).await?,
            };
            match contacts::decide(candidates, holders, &input.display_name) {
                Decision::Known {
                    contact,
                    matched_by,
                    attach,
                } => {
                    let contact = if attach.is_empty() {
                        *contact
                    } else {
                        let link = if contact.fields.affiliation == Affiliation::None {
                            let emails = attach
                                .iter()
                                .filter(|i| i.kind == IdentityKind::Email)
                                .map(|i| i.value.as_str());
                            self.auto_organization(tenant, emails).await?
                        } else {
                            None
                        };
                        match self
                            .contacts
                            .attach_identities(
                                tenant.id,
                                contact.id,
                                &attach,
                                link,
                                self.clock.now(),
                            )
                            .await
                        {
                            // Deleted between the read and the write: resolve afresh.
                            Err(DomainError::NotFound { .. }) => return Ok(Attempt::Again),
                            result => result?,
                        }
                    };
                    Ok(Attempt::Done(Resolution {
                        contact,
                        created: false,
                        matched_by: Some(matched_by),
                    }))
                }
                Decision::New {
                    identities,
                    display_name,
                } => {
                    // Defaults fill in on every create; required fields are
                    // not enforced on contacts that senders create.
                    let custom_fields = self
                        .fields
                        .definitions_for(tenant.id, FieldEntity::Contact, DefinitionsFor::Defaults)
                        .await?
                        .into_iter()
                        .filter_map(|definition| {
                            definition.spec.default.map(|value| (definition.key, value))
                        })
                        .collect();
                    let emails = identities
                        .iter()
                        .filter(|i| i.kind == IdentityKind::Email)
                        .map(|i| i.value.as_str());
                    let affiliation = match self.auto_organization(tenant, emails).await? {
                        Some(org) => Affiliation::Auto(org),
                        None => Affiliation::None,
                    };
                    let now = self.clock.now();
                    let contact = Contact {
                        id: ContactId::from_uuid(self.ids.new_id()),
                        tenant_id: tenant.id,
                        fields: ContactFields {
                            display_name,
                            affiliation,
                            ..ContactFields::default()
                        },
                        identities,
                        tags: Vec::new(),
                        tier: None,
                        custom_fields,
                        engagement: Default::default(),
                        version: 1,
                        create_time: now,
                        update_time: now,
                    };
                    if contact.identities.is_empty() {
                        // Every address was shared: a contact of its own,
                        // which no later message can find by them.
                        return match self.contacts.create(&contact, None).await? {
                            CreateOutcome::Created(contact) => Ok(Attempt::Done(Resolution {
                                contact: *contact,
                                created: true,
                                matched_by: None,
                            })),
                            CreateOutcome::Replayed(_) => Err(DomainError::Internal(
                                "a create without request id replayed".to_owned(),
                            )),
                        };
                    }
                    match self.contacts.create_resolved(&contact).await? {
                        ResolvedCreate::Created(contact) => Ok(Attempt::Done(Resolution {
                            contact: *contact,
                            created: true,
                            matched_by: None,
                        })),
                        ResolvedCreate::Raced => Ok(Attempt::Again),
                    }
                }
            }
        })
        .await
    }
}

/// Most senders one `resolve_senders` call takes.
pub const MAX_SENDERS_PER_BATCH: usize = 100;

/// A sender validated for resolution: its candidate addresses (shared and
/// blocked ones left out: they identify nobody, so they are neither matched,
/// attached nor claimed) and the keys to look them up by.
struct Sender {
    input: SenderInput,
    candidates: Vec<identity::Candidate>,
    keys: Vec<IdentityKey>,
}

impl Sender {
    fn prepare(tenant: &Tenant, input: SenderInput) -> Result<Self, DomainError> {
        let mut candidates = identity::candidates(&input, tenant.default_region)?;
        candidates.retain(|candidate| !tenant.ignores(&candidate.identity.key()));
        let keys = identity::keys(&candidates);
        Ok(Self {
            input,
            candidates,
            keys,
        })
    }
}

/// Every field violation of a sender, found without storage: used to report
/// them together with violations the caller's adapter found first.
pub fn sender_violations(input: &SenderInput, region: Region) -> Vec<crate::FieldViolation> {
    match identity::candidates(input, region) {
        Err(DomainError::InvalidArgument(found)) => found,
        _ => Vec::new(),
    }
}

/// Every field violation of a draft, found without storage: used to report
/// them together with violations the caller's adapter found first.
pub fn draft_violations(draft: &ContactDraft, region: Region) -> Vec<crate::FieldViolation> {
    let mut violations = Vec::new();
    if let Err(DomainError::InvalidArgument(found)) =
        contacts::validate_fields(draft.fields.clone())
    {
        violations.extend(found);
    }
    if let Err(DomainError::InvalidArgument(found)) =
        identity::normalize_identities(draft.identities.clone(), region)
    {
        violations.extend(found);
    }
    if let Err(DomainError::InvalidArgument(found)) = tag::normalize_tags(&draft.tags, "tags") {
        violations.extend(found);
    }
    violations
}

fn check_version(current: &Contact, expected_version: Option<i64>) -> Result<(), DomainError> {
    match expected_version {
        Some(version) if version != current.version => Err(DomainError::Stale {
            entity: Entity::Contact,
            id: current.id.to_string(),
        }),
        _ => Ok(()),
    }
}

pub(crate) fn merge_violations<A, B>(
    first: Result<A, DomainError>,
    second: Result<B, DomainError>,
) -> Result<(A, B), DomainError> {
    match (first, second) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(DomainError::InvalidArgument(mut a)), Err(DomainError::InvalidArgument(b))) => {
            a.extend(b);
            Err(DomainError::InvalidArgument(a))
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    }
}

/// Puts the request path of the offending input on an `IdentityTaken` that
/// the repository raised without one.
fn locate_taken(error: DomainError, inputs: &[IdentityInput], region: Region) -> DomainError {
    match error {
        DomainError::IdentityTaken {
            field,
            kind,
            value,
            holder,
        } if field.is_empty() => {
            let field = inputs
                .iter()
                .find(|input| {
                    input.kind.as_str() == kind
                        && identity::normalize(input.kind, &input.raw, region)
                            .is_ok_and(|normalized| normalized.value == value)
                })
                .map(|input| input.field.clone())
                .unwrap_or_default();
            DomainError::IdentityTaken {
                field,
                kind,
                value,
                holder,
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use mockall::predicate::always;
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;
    use crate::contacts::MockContactRepository;
    use crate::identity::Channel;
    use crate::kernel::{ATTEMPTS, MockClock, MockIdGenerator};

    fn service(repository: MockContactRepository) -> ContactService {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(OffsetDateTime::UNIX_EPOCH);
        let mut ids = MockIdGenerator::new();
        ids.expect_new_id().returning(Uuid::now_v7);
        let mut fields = crate::fields::MockCustomFieldRepository::new();
        fields
            .expect_definitions_for()
            .returning(|_, _, _| Ok(Vec::new()));
        let mut organizations = crate::organizations::MockOrganizationRepository::new();
        organizations
            .expect_find_by_domains()
            .returning(|_, _| Ok(None));
        ContactService::new(
            Arc::new(repository),
            Arc::new(crate::tiers::MockTierRepository::new()),
            Arc::new(fields),
            Arc::new(organizations),
            Arc::new(clock),
            Arc::new(ids),
        )
    }

    /// A contact of `tenant` holding ana@example.com.
    fn ana_on_file(tenant: &Tenant) -> Contact {
        Contact {
            identities: vec![ContactIdentity {
                kind: IdentityKind::Email,
                value: "ana@example.com".into(),
                raw: "ana@example.com".into(),
                primary: true,
            }],
            ..Contact::for_tests(ContactId::from_uuid(Uuid::now_v7()), tenant.id)
        }
    }

    fn sender(address: &str) -> SenderInput {
        SenderInput {
            channel: Channel::Email,
            address: address.into(),
            display_name: String::new(),
            email: String::new(),
            phone: String::new(),
            external_id: String::new(),
        }
    }

    #[tokio::test]
    async fn a_lost_creation_race_reads_again_and_returns_the_winner() {
        let tenant = Tenant::for_tests();
        let winner = ana_on_file(&tenant);
        let mut repository = MockContactRepository::new();
        let mut reads = 0;
        let found = winner.clone();
        repository
            .expect_find_by_identities()
            .times(2)
            .returning(move |_, _| {
                reads += 1;
                Ok(if reads == 1 {
                    vec![]
                } else {
                    vec![found.clone()]
                })
            });
        repository
            .expect_create_resolved()
            .times(1)
            .returning(|_| Ok(ResolvedCreate::Raced));
        let resolution = service(repository)
            .resolve_sender(
                &Caller::tenant_key(tenant.clone()),
                sender("Ana@Example.com"),
            )
            .await
            .unwrap();
        assert_eq!(resolution.contact.id, winner.id);
        assert!(!resolution.created);
        assert_eq!(resolution.matched_by, Some(MatchedBy::Address));
    }

    #[tokio::test]
    async fn a_new_sender_at_an_owned_domain_is_created_linked_and_free_mail_is_never_looked_up() {
        let acme = OrganizationId::from_uuid(Uuid::now_v7());
        let mut repository = MockContactRepository::new();
        repository
            .expect_find_by_identities()
            .returning(|_, _| Ok(vec![]));
        repository
            .expect_create_resolved()
            .returning(|contact| Ok(ResolvedCreate::Created(Box::new(contact.clone()))));
        let mut organizations = crate::organizations::MockOrganizationRepository::new();
        organizations
            .expect_find_by_domains()
            .withf(|_, domains| domains == ["acme.com".to_owned()])
            .times(1)
            .returning(move |_, _| Ok(Some(acme)));
        let mut fields = crate::fields::MockCustomFieldRepository::new();
        fields
            .expect_definitions_for()
            .returning(|_, _, _| Ok(Vec::new()));
        let mut clock = MockClock::new();
        clock.expect_now().return_const(OffsetDateTime::UNIX_EPOCH);
        let mut ids = MockIdGenerator::new();
        ids.expect_new_id().returning(Uuid::now_v7);
        let service = ContactService::new(
            Arc::new(repository),
            Arc::new(crate::tiers::MockTierRepository::new()),
            Arc::new(fields),
            Arc::new(organizations),
            Arc::new(clock),
            Arc::new(ids),
        );
        let tenant = Tenant::for_tests();
        let linked = service
            .resolve_sender(&Caller::tenant_key(tenant.clone()), sender("ana@acme.com"))
            .await
            .unwrap();
        assert_eq!(linked.contact.fields.affiliation, Affiliation::Auto(acme));
        // The mock allows one look-up: gmail.com must not cause another.
        let free = service
            .resolve_sender(&Caller::tenant_key(tenant.clone()), sender("bo@gmail.com"))
            .await
            .unwrap();
        assert_eq!(free.contact.fields.affiliation, Affiliation::None);
    }

    #[tokio::test]
    async fn a_batch_reads_every_sender_at_once_and_only_new_ones_read_again() {
        let tenant = Tenant::for_tests();
        let ana = ana_on_file(&tenant);
        let mut repository = MockContactRepository::new();
        let found = ana.clone();
        repository
            .expect_find_by_identities_each()
            .times(1)
            .withf(|_, sets| {
                sets == [
                    vec![IdentityKey {
                        kind: IdentityKind::Email,
                        value: "ana@example.com".into(),
                    }],
                    vec![IdentityKey {
                        kind: IdentityKind::Email,
                        value: "bo@example.com".into(),
                    }],
                ]
            })
            .returning(move |_, _| Ok(vec![vec![found.clone()], Vec::new()]));
        // The batch's read stands for each sender's first attempt: nothing
        // reads one sender alone unless it must try again.
        repository.expect_find_by_identities().times(0);
        repository
            .expect_create_resolved()
            .times(1)
            .returning(|contact| Ok(ResolvedCreate::Created(Box::new(contact.clone()))));
        let resolutions = service(repository)
            .resolve_senders(
                &Caller::tenant_key(tenant),
                vec![sender("Ana@Example.com"), sender("bo@example.com")],
            )
            .await
            .unwrap();
        assert_eq!(resolutions.len(), 2);
        assert_eq!(resolutions[0].contact.id, ana.id);
        assert!(!resolutions[0].created);
        assert!(resolutions[1].created);
        assert_eq!(resolutions[1].contact.identities[0].value, "bo@example.com");
    }

    #[tokio::test]
    async fn a_batch_names_every_bad_sender_and_bounds_its_size_before_reading() {
        let service = service(MockContactRepository::new());
        let caller = Caller::tenant_key(Tenant::for_tests());
        let error = service
            .resolve_senders(&caller, vec![sender("a@x.com"), sender("nope"), sender("")])
            .await
            .unwrap_err();
        let DomainError::InvalidArgument(violations) = error else {
            panic!("{error:?}");
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["senders[1].address", "senders[2].address"]);
        for count in [0, MAX_SENDERS_PER_BATCH + 1] {
            let error = service
                .resolve_senders(&caller, vec![sender("a@x.com"); count])
                .await
                .unwrap_err();
            let DomainError::InvalidArgument(violations) = error else {
                panic!("{error:?}");
            };
            assert_eq!(violations[0].field, "senders", "{count} senders");
        }
    }

    #[tokio::test]
    async fn endless_races_end_in_contention_not_a_loop() {
        let mut repository = MockContactRepository::new();
        repository
            .expect_find_by_identities()
            .times(ATTEMPTS)
            .returning(|_, _| Ok(vec![]));
        repository
            .expect_create_resolved()
            .times(ATTEMPTS)
            .returning(|_| Ok(ResolvedCreate::Raced));
        let error = service(repository)
            .resolve_sender(
                &Caller::tenant_key(Tenant::for_tests()),
                sender("ana@example.com"),
            )
            .await
            .unwrap_err();
        assert_eq!(error, DomainError::Contention("sender resolution"));
    }

    #[tokio::test]
    async fn invalid_senders_never_reach_storage() {
        let repository = MockContactRepository::new();
        let error = service(repository)
            .resolve_sender(
                &Caller::tenant_key(Tenant::for_tests()),
                sender("not an email"),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, DomainError::InvalidArgument(v) if v[0].field == "address"));
    }

    #[tokio::test]
    async fn a_taken_address_is_reported_at_its_request_path() {
        let holder = ContactId::from_uuid(Uuid::now_v7());
        let mut repository = MockContactRepository::new();
        repository
            .expect_create()
            .with(always(), always())
            .returning(move |_, _| {
                Err(DomainError::IdentityTaken {
                    field: String::new(),
                    kind: "email",
                    value: "b@x.com".into(),
                    holder,
                })
            });
        let draft = ContactDraft {
            fields: ContactFields::default(),
            identities: vec![
                IdentityInput {
                    kind: IdentityKind::Email,
                    raw: "a@x.com".into(),
                    primary: false,
                    field: "emails[0].address".into(),
                },
                IdentityInput {
                    kind: IdentityKind::Email,
                    raw: "B@X.com".into(),
                    primary: false,
                    field: "emails[1].address".into(),
                },
            ],
            tags: Vec::new(),
            custom_fields: Default::default(),
        };
        let error = service(repository)
            .create(&Caller::tenant_key(Tenant::for_tests()), draft, None)
            .await
            .unwrap_err();
        assert_eq!(
            error,
            DomainError::IdentityTaken {
                field: "emails[1].address".into(),
                kind: "email",
                value: "b@x.com".into(),
                holder,
            }
        );
    }

    #[tokio::test]
    async fn a_stale_etag_is_refused_before_any_write() {
        let tenant = Tenant::for_tests();
        let current = Contact {
            id: ContactId::from_uuid(Uuid::now_v7()),
            tenant_id: tenant.id,
            fields: ContactFields::default(),
            identities: vec![],
            tags: Vec::new(),
            tier: None,
            custom_fields: Default::default(),
            engagement: Default::default(),
            version: 3,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        };
        let mut repository = MockContactRepository::new();
        let found = current.clone();
        repository
            .expect_get()
            .returning(move |_, _| Ok(Some(found.clone())));
        repository.expect_update().never();
        let error = service(repository)
            .update(
                &Caller::tenant_key(tenant.clone()),
                current.id,
                ContactPatch::default(),
                Some(2),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, DomainError::Stale { .. }));
    }
}
