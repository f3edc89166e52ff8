//! Use cases over the ports: contact CRUD, identities, sender resolution and
//! tenant settings. Each computes what to write as plain data and hands it to
//! one repository call that applies it atomically.

use std::sync::Arc;

use crate::contact::{
    self, Contact, ContactFields, ContactIdentity, IdentityInput, IdentityKey, LifecycleStage,
};
use crate::custom_field::{self, CustomValues, FieldDefinition, FieldEntity, ValueChanges};
use crate::error::{DomainError, Entity};
use crate::identity::{self, IdentityKind, Region};
use crate::ids::{ContactId, OrganizationId, TenantId, TierId};
use crate::organization::{self, Affiliation};
use crate::page::Page;
use crate::ports::{
    Clock, ContactChange, ContactFilter, ContactRepository, CreateOutcome, CustomFieldRepository,
    DefinitionsFor, IdGenerator, OrganizationRepository, ResolvedCreate, TenantRepository,
    TierRepository,
};
use crate::resolve::{self, Decision, MatchedBy, SenderInput};
use crate::tag;
use crate::tenant::{self, Tenant};
use crate::tier::Tier;

/// How often resolution re-reads after losing a race before giving up.
/// Each lost race means another writer created or claimed an address, so the
/// next read finds it; more than a couple in a row means heavy contention.
pub const RESOLVE_ATTEMPTS: usize = 5;

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

    /// The organization that emails at these (normalised) addresses
    /// auto-link to, if any.
    async fn auto_organization<'a>(
        &self,
        tenant: &Tenant,
        emails: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<OrganizationId>, DomainError> {
        let domains = organization::auto_link_domains(emails, &tenant.free_mail_domains);
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
        tenant: &Tenant,
        draft: ContactDraft,
        request_id: Option<String>,
    ) -> Result<Contact, DomainError> {
        if let Some(request_id) = &request_id
            && (request_id.chars().count() > 128 || request_id.chars().any(char::is_control))
        {
            return Err(DomainError::invalid(
                "request_id",
                "must be at most 128 characters without control characters",
            ));
        }
        let fields = contact::validate_fields(draft.fields, "contact");
        let identities =
            contact::normalize_identities(draft.identities.clone(), tenant.default_region);
        let (fields, identities) = merge_violations(fields, identities)?;
        let (mut fields, mut tags) =
            merge_violations(Ok(fields), tag::normalize_tags(&draft.tags, "contact.tags"))?;
        if fields.display_name.is_empty() {
            fields.display_name = contact::default_display_name(&identities);
        }
        let tier = match fields.tier_id {
            Some(id) => Some(self.named_tier(tenant, id, "contact.tier_id").await?),
            None => None,
        };
        if let Some(tier) = &tier {
            tags = tag::union(&tags, &tier.fields.auto_tags);
        }
        match fields.affiliation {
            Affiliation::Manual(org) => {
                self.named_organization(tenant, org, "contact.organization_id")
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
        let custom_fields = custom_field::apply_values(
            &CustomValues::new(),
            &draft.custom_fields,
            &definitions,
            true,
            "contact",
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
            .create(&contact, request_id)
            .await
            .map_err(|error| locate_taken(error, &draft.identities, tenant.default_region))?
        {
            CreateOutcome::Created(contact) => Ok(*contact),
            CreateOutcome::Replayed(id) => self.get(tenant, id).await,
        }
    }

    /// Reads one contact.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn get(&self, tenant: &Tenant, id: ContactId) -> Result<Contact, DomainError> {
        self.contacts
            .get(tenant.id, id)
            .await?
            .ok_or_else(|| DomainError::contact_not_found(id))
    }

    /// Lists contacts that pass `filter` by id, after a cursor.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    pub async fn list(
        &self,
        tenant: &Tenant,
        filter: &ContactFilter,
        after: Option<ContactId>,
        page_size: u32,
    ) -> Result<Page<Contact, ContactId>, DomainError> {
        let mut items = self
            .contacts
            .list(tenant.id, filter, after, page_size.saturating_add(1))
            .await?;
        let next = if items.len() > page_size as usize {
            items.truncate(page_size as usize);
            items.last().map(|contact| contact.id)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// Applies a patch. With `expected_version`, a contact changed since gets
    /// `Stale`; without, a concurrent change is re-read and the patch applied
    /// again on top of it, so no write is silently lost.
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound`; `Stale`; `IdentityTaken`; `Unavailable`;
    /// `Contention`; `Internal`.
    pub async fn update(
        &self,
        tenant: &Tenant,
        id: ContactId,
        patch: ContactPatch,
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
        self.apply_patch(tenant, id, patch, expected_version, "contact.")
            .await
    }

    /// Applies a patch with retries; `field_prefix` is where the patch's
    /// fields sit in the request (`contact.` for UpdateContact, empty for
    /// the RPCs that carry `tier_id` or `organization_id` at the top).
    async fn apply_patch(
        &self,
        tenant: &Tenant,
        id: ContactId,
        patch: ContactPatch,
        expected_version: Option<i64>,
        field_prefix: &str,
    ) -> Result<Contact, DomainError> {
        let inputs: Vec<IdentityInput> = [&patch.emails, &patch.phones, &patch.channel_identities]
            .into_iter()
            .flatten()
            .flatten()
            .cloned()
            .chain(patch.external_id.clone())
            .collect();
        let tier = match patch.tier_id {
            Some(Some(tier)) => Some(
                self.named_tier(tenant, tier, &format!("{field_prefix}tier_id"))
                    .await?,
            ),
            _ => None,
        };
        let auto_org = match patch.affiliation {
            Some(Affiliation::Manual(org)) => {
                let field = format!("{field_prefix}organization_id");
                self.named_organization(tenant, org, &field).await?;
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
        for _ in 0..RESOLVE_ATTEMPTS {
            let current = self.get(tenant, id).await?;
            check_version(&current, expected_version)?;
            let change = plan_update(
                &current,
                &patch,
                tier.as_ref(),
                &definitions,
                auto_org,
                tenant.default_region,
                self.clock.now(),
            )?;
            match self.contacts.update(&change).await {
                Err(DomainError::Stale { .. }) if expected_version.is_none() => continue,
                result => {
                    return result
                        .map_err(|error| locate_taken(error, &inputs, tenant.default_region));
                }
            }
        }
        Err(DomainError::Contention("contact"))
    }

    /// Deletes a contact and frees its addresses.
    ///
    /// # Errors
    /// `NotFound`; `Stale`; `Unavailable`; `Internal`.
    pub async fn delete(
        &self,
        tenant: &Tenant,
        id: ContactId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError> {
        self.contacts.delete(tenant.id, id, expected_version).await
    }

    /// Adds one address to a contact. Adding an address it already holds
    /// changes nothing (except the primary flag, when asked).
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound`; `Stale`; `IdentityTaken`; `Unavailable`;
    /// `Contention`; `Internal`.
    pub async fn add_identity(
        &self,
        tenant: &Tenant,
        id: ContactId,
        input: IdentityInput,
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
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
            tenant,
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
        tenant: &Tenant,
        id: ContactId,
        input: IdentityInput,
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
        let normalized = identity::normalize(input.kind, &input.raw, tenant.default_region)
            .map_err(|error| DomainError::invalid(input.field.clone(), error.to_string()))?;
        let key = IdentityKey {
            kind: normalized.kind,
            value: normalized.value,
        };
        self.change_identities(tenant, id, expected_version, &[], None, |identities| {
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
        tenant: &Tenant,
        id: ContactId,
        tags: &[String],
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
        let added = tag::normalize_tags(tags, "tags")?;
        self.change_tags(tenant, id, expected_version, |held| {
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
        tenant: &Tenant,
        id: ContactId,
        tags: &[String],
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
        let removed = tag::normalize_tags(tags, "tags")?;
        self.change_tags(tenant, id, expected_version, |held| {
            held.iter()
                .filter(|tag| !removed.contains(tag))
                .cloned()
                .collect()
        })
        .await
    }

    async fn change_tags(
        &self,
        tenant: &Tenant,
        id: ContactId,
        expected_version: Option<i64>,
        edit: impl Fn(&[String]) -> Vec<String>,
    ) -> Result<Contact, DomainError> {
        for _ in 0..RESOLVE_ATTEMPTS {
            let current = self.get(tenant, id).await?;
            check_version(&current, expected_version)?;
            let tags = edit(&current.tags);
            if tags.len() > tag::MAX_TAGS {
                return Err(DomainError::invalid(
                    "tags",
                    format!("a contact may hold at most {} tags", tag::MAX_TAGS),
                ));
            }
            if tags == current.tags {
                return Ok(current);
            }
            let change = diff(
                &current,
                current.fields.clone(),
                current.identities.clone(),
                tags,
                current.custom_fields.clone(),
                self.clock.now(),
            );
            match self.contacts.update(&change).await {
                Err(DomainError::Stale { .. }) if expected_version.is_none() => continue,
                result => return result,
            }
        }
        Err(DomainError::Contention("contact"))
    }

    /// Puts a contact on a tier (adding the tier's auto-tags) or, with
    /// `None`, takes it off its tier.
    ///
    /// # Errors
    /// `InvalidArgument` on `tier_id` for an unknown tier; `NotFound`;
    /// `Stale`; `Unavailable`; `Contention`; `Internal`.
    pub async fn set_tier(
        &self,
        tenant: &Tenant,
        id: ContactId,
        tier: Option<TierId>,
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
        let patch = ContactPatch {
            tier_id: Some(tier),
            ..ContactPatch::default()
        };
        self.apply_patch(tenant, id, patch, expected_version, "")
            .await
    }

    /// Links a contact to an organization by hand (moving it out of any other).
    ///
    /// # Errors
    /// `InvalidArgument` on `organization_id` for an unknown organization;
    /// `NotFound`; `Stale`; `Unavailable`; `Contention`; `Internal`.
    pub async fn join_organization(
        &self,
        tenant: &Tenant,
        id: ContactId,
        organization: OrganizationId,
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
        let patch = ContactPatch {
            affiliation: Some(Affiliation::Manual(organization)),
            ..ContactPatch::default()
        };
        self.apply_patch(tenant, id, patch, expected_version, "")
            .await
    }

    /// Takes a contact out of an organization by hand; it is not linked
    /// automatically again.
    ///
    /// # Errors
    /// `FailedPrecondition` when it is not a member; `NotFound`; `Stale`;
    /// `Unavailable`; `Contention`; `Internal`.
    pub async fn leave_organization(
        &self,
        tenant: &Tenant,
        id: ContactId,
        organization: OrganizationId,
        expected_version: Option<i64>,
    ) -> Result<Contact, DomainError> {
        let current = self.get(tenant, id).await?;
        check_version(&current, expected_version)?;
        if current.fields.affiliation.organization() != Some(organization) {
            return Err(DomainError::FailedPrecondition(format!(
                "contact {id} is not a member of organization {organization}"
            )));
        }
        let patch = ContactPatch {
            affiliation: Some(Affiliation::Detached),
            ..ContactPatch::default()
        };
        self.apply_patch(tenant, id, patch, Some(current.version), "")
            .await
    }

    async fn change_identities(
        &self,
        tenant: &Tenant,
        id: ContactId,
        expected_version: Option<i64>,
        inputs: &[IdentityInput],
        auto_org: Option<OrganizationId>,
        edit: impl Fn(&mut Vec<ContactIdentity>) -> Result<(), DomainError>,
    ) -> Result<Contact, DomainError> {
        for _ in 0..RESOLVE_ATTEMPTS {
            let current = self.get(tenant, id).await?;
            check_version(&current, expected_version)?;
            let mut identities = current.identities.clone();
            edit(&mut identities)?;
            if identities.len() > contact::MAX_IDENTITIES {
                return Err(DomainError::invalid(
                    "identity",
                    format!(
                        "a contact may hold at most {} addresses",
                        contact::MAX_IDENTITIES
                    ),
                ));
            }
            contact::ensure_primaries(&mut identities);
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
            match self.contacts.update(&change).await {
                Err(DomainError::Stale { .. }) if expected_version.is_none() => continue,
                result => {
                    return result
                        .map_err(|error| locate_taken(error, inputs, tenant.default_region));
                }
            }
        }
        Err(DomainError::Contention("contact"))
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
    /// after [`RESOLVE_ATTEMPTS`] lost races; `Internal`.
    pub async fn resolve_sender(
        &self,
        tenant: &Tenant,
        input: SenderInput,
    ) -> Result<Resolution, DomainError> {
        let mut candidates = resolve::candidates(&input, tenant.default_region)?;
        // Shared and blocked addresses identify nobody: they are neither
        // matched, attached nor claimed.
        candidates.retain(|candidate| !tenant.ignores(&candidate.identity.key()));
        let keys = resolve::keys(&candidates);
        for _ in 0..RESOLVE_ATTEMPTS {
            let holders = self.contacts.find_by_identities(tenant.id, &keys).await?;
            match resolve::decide(&candidates, holders, &input.display_name) {
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
                            Err(DomainError::NotFound { .. }) => continue,
                            result => result?,
                        }
                    };
                    return Ok(Resolution {
                        contact,
                        created: false,
                        matched_by: Some(matched_by),
                    });
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
                            CreateOutcome::Created(contact) => Ok(Resolution {
                                contact: *contact,
                                created: true,
                                matched_by: None,
                            }),
                            CreateOutcome::Replayed(_) => Err(DomainError::Internal(
                                "a create without request id replayed".to_owned(),
                            )),
                        };
                    }
                    match self.contacts.create_resolved(&contact).await? {
                        ResolvedCreate::Created(contact) => {
                            return Ok(Resolution {
                                contact: *contact,
                                created: true,
                                matched_by: None,
                            });
                        }
                        ResolvedCreate::Raced => continue,
                    }
                }
            }
        }
        Err(DomainError::Contention("sender resolution"))
    }
}

/// Every field violation of a draft, found without storage: used to report
/// them together with violations the caller's adapter found first.
pub fn draft_violations(draft: &ContactDraft, region: Region) -> Vec<crate::FieldViolation> {
    let mut violations = Vec::new();
    if let Err(DomainError::InvalidArgument(found)) =
        contact::validate_fields(draft.fields.clone(), "contact")
    {
        violations.extend(found);
    }
    if let Err(DomainError::InvalidArgument(found)) =
        contact::normalize_identities(draft.identities.clone(), region)
    {
        violations.extend(found);
    }
    if let Err(DomainError::InvalidArgument(found)) =
        tag::normalize_tags(&draft.tags, "contact.tags")
    {
        violations.extend(found);
    }
    violations
}

/// Every field violation of a patch that can be found without the stored
/// contact, for the same purpose as [`draft_violations`].
pub fn patch_violations(patch: &ContactPatch, region: Region) -> Vec<crate::FieldViolation> {
    let fields = ContactFields {
        display_name: patch.display_name.clone().unwrap_or_default(),
        city: patch.city.clone().unwrap_or_default(),
        country: patch.country.clone().unwrap_or_default(),
        language: patch.language.clone().unwrap_or_default(),
        avatar_url: patch.avatar_url.clone().unwrap_or_default(),
        blocked: false,
        lifecycle_stage: LifecycleStage::default(),
        tier_id: None,
        affiliation: Affiliation::None,
    };
    let identities = [&patch.emails, &patch.phones, &patch.channel_identities]
        .into_iter()
        .flatten()
        .flatten()
        .cloned()
        .chain(
            patch
                .external_id
                .clone()
                .filter(|input| !input.raw.is_empty()),
        )
        .collect();
    draft_violations(
        &ContactDraft {
            fields,
            identities,
            tags: patch.tags.clone().unwrap_or_default(),
            custom_fields: ValueChanges::default(),
        },
        region,
    )
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

fn merge_violations<A, B>(
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
                .unwrap_or_else(|| "contact".to_owned());
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

/// Computes the change a patch makes to a contact.
///
/// # Errors
/// `InvalidArgument` listing every bad field.
pub fn plan_update(
    current: &Contact,
    patch: &ContactPatch,
    tier: Option<&Tier>,
    definitions: &[FieldDefinition],
    auto_org: Option<OrganizationId>,
    region: Region,
    now: time::OffsetDateTime,
) -> Result<ContactChange, DomainError> {
    let mut fields = current.fields.clone();
    let replace = |target: &mut String, value: &Option<String>| {
        if let Some(value) = value {
            target.clone_from(value);
        }
    };
    replace(&mut fields.display_name, &patch.display_name);
    replace(&mut fields.city, &patch.city);
    replace(&mut fields.country, &patch.country);
    replace(&mut fields.language, &patch.language);
    replace(&mut fields.avatar_url, &patch.avatar_url);
    if let Some(blocked) = patch.blocked {
        fields.blocked = blocked;
    }
    if let Some(stage) = patch.lifecycle_stage {
        fields.lifecycle_stage = stage;
    }
    if let Some(tier_id) = patch.tier_id {
        fields.tier_id = tier_id;
    }
    match (patch.affiliation, auto_org) {
        (Some(affiliation), _) => fields.affiliation = affiliation,
        (None, Some(org)) if fields.affiliation == Affiliation::None => {
            fields.affiliation = Affiliation::Auto(org);
        }
        (None, _) => {}
    }
    let fields = contact::validate_fields(fields, "contact");
    let tags = match &patch.tags {
        Some(raw) => tag::normalize_tags(raw, "contact.tags"),
        None => Ok(current.tags.clone()),
    };
    let fields = merge_violations(fields, tags);
    let custom = match &patch.custom_fields {
        Some(changes) => custom_field::apply_values(
            &current.custom_fields,
            changes,
            definitions,
            false,
            "contact",
            region,
        )
        .map_err(DomainError::InvalidArgument),
        None => Ok(current.custom_fields.clone()),
    };
    let fields = merge_violations(fields, custom);

    // Kinds whose whole list the patch replaces keep nothing of the old list.
    let replaced = |kind: IdentityKind| match kind {
        IdentityKind::Email => patch.emails.is_some(),
        IdentityKind::Phone => patch.phones.is_some(),
        IdentityKind::ExternalId => patch.external_id.is_some(),
        _ => patch.channel_identities.is_some(),
    };
    // Each replacement list may hold only its own kinds.
    let mut fresh_inputs = Vec::new();
    let mut violations = Vec::new();
    for (list, name) in [
        (&patch.emails, List::Emails),
        (&patch.phones, List::Phones),
        (&patch.channel_identities, List::Channel),
    ] {
        for input in list.iter().flatten() {
            if List::of(input.kind) == Some(name) {
                fresh_inputs.push(input.clone());
            } else {
                violations.push(crate::FieldViolation::new(
                    input.field.clone(),
                    "this kind of address belongs in another list",
                ));
            }
        }
    }
    if let Some(external_id) = &patch.external_id
        && !external_id.raw.is_empty()
    {
        fresh_inputs.push(external_id.clone());
    }
    if !violations.is_empty() {
        return Err(DomainError::InvalidArgument(violations));
    }
    // Kept addresses keep their stored value (even if the tenant's region
    // changed since), so a kept address never moves; only new ones are
    // normalised.
    let kept: Vec<ContactIdentity> = current
        .identities
        .iter()
        .filter(|held| !replaced(held.kind))
        .cloned()
        .collect();
    let fresh = contact::normalize_identities(fresh_inputs, region);
    let (((mut fields, mut tags), custom_fields), fresh) = merge_violations(fields, fresh)?;
    // Putting a contact on a tier adds the tier's auto-tags; taking it off
    // removes nothing, since a tag may have been added for other reasons.
    if let Some(tier) = tier {
        tags = tag::union(&tags, &tier.fields.auto_tags);
    }
    if tags.len() > tag::MAX_TAGS {
        return Err(DomainError::invalid(
            "contact.tags",
            format!("may hold at most {} tags", tag::MAX_TAGS),
        ));
    }
    let mut identities = kept;
    for identity in fresh {
        if identities.iter().any(|held| held.key() == identity.key()) {
            return Err(DomainError::invalid(
                "contact",
                format!(
                    "{} {:?} is listed twice",
                    identity.kind.as_str(),
                    identity.value
                ),
            ));
        }
        identities.push(identity);
    }
    if identities.len() > contact::MAX_IDENTITIES {
        return Err(DomainError::invalid(
            "contact",
            format!("may hold at most {} addresses", contact::MAX_IDENTITIES),
        ));
    }
    contact::ensure_primaries(&mut identities);
    if fields.display_name.is_empty() {
        fields.display_name = contact::default_display_name(&identities);
    }
    Ok(diff(current, fields, identities, tags, custom_fields, now))
}

/// The replacement lists of a patch, by the kinds they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Emails,
    Phones,
    Channel,
}

impl List {
    /// The list a kind of address belongs in; the external id has a field of its own.
    fn of(kind: IdentityKind) -> Option<List> {
        match kind {
            IdentityKind::Email => Some(List::Emails),
            IdentityKind::Phone => Some(List::Phones),
            IdentityKind::ExternalId => None,
            IdentityKind::Instagram
            | IdentityKind::Telegram
            | IdentityKind::Messenger
            | IdentityKind::Webchat
            | IdentityKind::WhatsappUserId => Some(List::Channel),
        }
    }
}

/// The change that turns `current` into a contact with these fields and identities.
fn diff(
    current: &Contact,
    fields: ContactFields,
    identities: Vec<ContactIdentity>,
    tags: Vec<String>,
    custom_fields: CustomValues,
    now: time::OffsetDateTime,
) -> ContactChange {
    let tags_add = tags
        .iter()
        .filter(|tag| !current.tags.contains(tag))
        .cloned()
        .collect();
    let tags_remove = current
        .tags
        .iter()
        .filter(|tag| !tags.contains(tag))
        .cloned()
        .collect();
    let remove = current
        .identities
        .iter()
        .filter(|held| !identities.iter().any(|kept| kept.key() == held.key()))
        .map(ContactIdentity::key)
        .collect();
    let mut add = Vec::new();
    let mut restate = Vec::new();
    for identity in identities {
        match current
            .identities
            .iter()
            .find(|held| held.key() == identity.key())
        {
            None => add.push(identity),
            Some(held) if held != &identity => restate.push(identity),
            Some(_) => {}
        }
    }
    ContactChange {
        tenant_id: current.tenant_id,
        id: current.id,
        expected_version: current.version,
        fields,
        add,
        remove,
        restate,
        tags_add,
        tags_remove,
        custom_fields,
        now,
    }
}

/// Tenant use cases: creation by operators, settings, and authentication.
#[derive(Clone)]
pub struct TenantService {
    tenants: Arc<dyn TenantRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for TenantService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantService").finish_non_exhaustive()
    }
}

/// Changes to tenant settings; `None` leaves a setting as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantSettingsPatch {
    /// New default region, as the caller wrote it.
    pub default_region: Option<String>,
    /// New list of the tenant's own free-mail domains.
    pub free_mail_domains: Option<Vec<String>>,
    /// New list of shared or blocked addresses (kind, address as written, use).
    pub shared_addresses: Option<Vec<(IdentityKind, String, tenant::AddressUse)>>,
}

impl TenantService {
    /// Wires the use cases to their ports.
    pub fn new(
        tenants: Arc<dyn TenantRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            tenants,
            clock,
            ids,
        }
    }

    /// Creates a tenant whose API key hashes to `api_key_hash`.
    ///
    /// # Errors
    /// `InvalidArgument` on `name` or `default_region`; `Unavailable`; `Internal`.
    pub async fn create(
        &self,
        name: &str,
        default_region: &str,
        api_key_hash: &str,
    ) -> Result<Tenant, DomainError> {
        let name = tenant::validate_tenant_name(name)?;
        let default_region = parse_region(default_region, "default_region")?;
        let now = self.clock.now();
        let tenant = Tenant {
            id: TenantId::from_uuid(self.ids.new_id()),
            name,
            default_region,
            free_mail_domains: Vec::new(),
            shared_addresses: Vec::new(),
            version: 1,
            create_time: now,
            update_time: now,
        };
        self.tenants.create(&tenant, api_key_hash).await?;
        Ok(tenant)
    }

    /// The tenant an API key hash belongs to.
    ///
    /// # Errors
    /// `Unauthenticated` when none; `Unavailable`; `Internal`.
    pub async fn authenticate(&self, api_key_hash: &str) -> Result<Tenant, DomainError> {
        self.tenants
            .find_by_api_key_hash(api_key_hash)
            .await?
            .ok_or(DomainError::Unauthenticated(
                "the API key matches no tenant",
            ))
    }

    /// The current settings of a tenant.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`; `Internal`.
    pub async fn get(&self, id: TenantId) -> Result<Tenant, DomainError> {
        self.tenants
            .get(id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                entity: Entity::Tenant,
                id: id.to_string(),
            })
    }

    /// Changes a tenant's settings.
    ///
    /// # Errors
    /// `InvalidArgument`; `NotFound`; `Stale`; `Unavailable`; `Internal`.
    pub async fn update_settings(
        &self,
        id: TenantId,
        patch: TenantSettingsPatch,
        expected_version: Option<i64>,
    ) -> Result<Tenant, DomainError> {
        let current = self.get(id).await?;
        if expected_version.is_some_and(|version| version != current.version) {
            return Err(DomainError::Stale {
                entity: Entity::Tenant,
                id: id.to_string(),
            });
        }
        let mut next = current.clone();
        if let Some(region) = &patch.default_region {
            next.default_region = parse_region(region, "settings.default_region")?;
        }
        if let Some(domains) = &patch.free_mail_domains {
            next.free_mail_domains =
                organization::normalize_free_mail(domains, "settings.extra_free_mail_domains")?;
        }
        if let Some(shared) = &patch.shared_addresses {
            next.shared_addresses =
                tenant::normalize_shared(shared, next.default_region, "settings.shared_addresses")?;
        }
        next.update_time = self.clock.now();
        self.tenants.update(&next, current.version).await
    }
}

fn parse_region(text: &str, field: &str) -> Result<Region, DomainError> {
    Region::parse(text).map_err(|_| {
        DomainError::invalid(
            field,
            "must be an ISO 3166-1 alpha-2 region with a phone numbering plan, such as \"US\"",
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use mockall::predicate::always;
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;
    use crate::identity::Channel;
    use crate::ports::{MockClock, MockContactRepository, MockIdGenerator};

    fn tenant() -> Tenant {
        Tenant {
            id: TenantId::from_uuid(Uuid::now_v7()),
            name: "Acme".into(),
            default_region: Region::parse("US").unwrap(),
            free_mail_domains: Vec::new(),
            shared_addresses: Vec::new(),
            version: 1,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn service(repository: MockContactRepository) -> ContactService {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(OffsetDateTime::UNIX_EPOCH);
        let mut ids = MockIdGenerator::new();
        ids.expect_new_id().returning(Uuid::now_v7);
        let mut fields = crate::ports::MockCustomFieldRepository::new();
        fields
            .expect_definitions_for()
            .returning(|_, _, _| Ok(Vec::new()));
        let mut organizations = crate::ports::MockOrganizationRepository::new();
        organizations
            .expect_find_by_domains()
            .returning(|_, _| Ok(None));
        ContactService::new(
            Arc::new(repository),
            Arc::new(crate::ports::MockTierRepository::new()),
            Arc::new(fields),
            Arc::new(organizations),
            Arc::new(clock),
            Arc::new(ids),
        )
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
        let tenant = tenant();
        let winner = Contact {
            id: ContactId::from_uuid(Uuid::now_v7()),
            tenant_id: tenant.id,
            fields: ContactFields::default(),
            identities: vec![ContactIdentity {
                kind: IdentityKind::Email,
                value: "ana@example.com".into(),
                raw: "ana@example.com".into(),
                primary: true,
            }],
            tags: Vec::new(),
            tier: None,
            custom_fields: Default::default(),
            engagement: Default::default(),
            version: 1,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        };
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
            .resolve_sender(&tenant, sender("Ana@Example.com"))
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
        let mut organizations = crate::ports::MockOrganizationRepository::new();
        organizations
            .expect_find_by_domains()
            .withf(|_, domains| domains == ["acme.com".to_owned()])
            .times(1)
            .returning(move |_, _| Ok(Some(acme)));
        let mut fields = crate::ports::MockCustomFieldRepository::new();
        fields
            .expect_definitions_for()
            .returning(|_, _, _| Ok(Vec::new()));
        let mut clock = MockClock::new();
        clock.expect_now().return_const(OffsetDateTime::UNIX_EPOCH);
        let mut ids = MockIdGenerator::new();
        ids.expect_new_id().returning(Uuid::now_v7);
        let service = ContactService::new(
            Arc::new(repository),
            Arc::new(crate::ports::MockTierRepository::new()),
            Arc::new(fields),
            Arc::new(organizations),
            Arc::new(clock),
            Arc::new(ids),
        );
        let tenant = tenant();
        let linked = service
            .resolve_sender(&tenant, sender("ana@acme.com"))
            .await
            .unwrap();
        assert_eq!(linked.contact.fields.affiliation, Affiliation::Auto(acme));
        // The mock allows one look-up: gmail.com must not cause another.
        let free = service
            .resolve_sender(&tenant, sender("bo@gmail.com"))
            .await
            .unwrap();
        assert_eq!(free.contact.fields.affiliation, Affiliation::None);
    }

    #[tokio::test]
    async fn endless_races_end_in_contention_not_a_loop() {
        let mut repository = MockContactRepository::new();
        repository
            .expect_find_by_identities()
            .times(RESOLVE_ATTEMPTS)
            .returning(|_, _| Ok(vec![]));
        repository
            .expect_create_resolved()
            .times(RESOLVE_ATTEMPTS)
            .returning(|_| Ok(ResolvedCreate::Raced));
        let error = service(repository)
            .resolve_sender(&tenant(), sender("ana@example.com"))
            .await
            .unwrap_err();
        assert_eq!(error, DomainError::Contention("sender resolution"));
    }

    #[tokio::test]
    async fn invalid_senders_never_reach_storage() {
        let repository = MockContactRepository::new();
        let error = service(repository)
            .resolve_sender(&tenant(), sender("not an email"))
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
                    field: "contact.emails[0].address".into(),
                },
                IdentityInput {
                    kind: IdentityKind::Email,
                    raw: "B@X.com".into(),
                    primary: false,
                    field: "contact.emails[1].address".into(),
                },
            ],
            tags: Vec::new(),
            custom_fields: Default::default(),
        };
        let error = service(repository)
            .create(&tenant(), draft, None)
            .await
            .unwrap_err();
        assert_eq!(
            error,
            DomainError::IdentityTaken {
                field: "contact.emails[1].address".into(),
                kind: "email",
                value: "b@x.com".into(),
                holder,
            }
        );
    }

    #[tokio::test]
    async fn a_stale_etag_is_refused_before_any_write() {
        let tenant = tenant();
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
            .update(&tenant, current.id, ContactPatch::default(), Some(2))
            .await
            .unwrap_err();
        assert!(matches!(error, DomainError::Stale { .. }));
    }

    fn held(kind: IdentityKind, value: &str, primary: bool) -> ContactIdentity {
        ContactIdentity {
            kind,
            value: value.into(),
            raw: value.into(),
            primary,
        }
    }

    #[test]
    fn replacing_emails_diffs_against_what_is_held() {
        let tenant = tenant();
        let current = Contact {
            id: ContactId::from_uuid(Uuid::now_v7()),
            tenant_id: tenant.id,
            fields: ContactFields {
                display_name: "Ana".into(),
                ..ContactFields::default()
            },
            identities: vec![
                held(IdentityKind::Email, "a@x.com", true),
                held(IdentityKind::Email, "b@x.com", false),
                held(IdentityKind::Phone, "+16502530000", true),
            ],
            tags: Vec::new(),
            tier: None,
            custom_fields: Default::default(),
            engagement: Default::default(),
            version: 4,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        };
        let patch = ContactPatch {
            emails: Some(vec![
                IdentityInput {
                    kind: IdentityKind::Email,
                    raw: "b@x.com".into(),
                    primary: true,
                    field: "contact.emails[0].address".into(),
                },
                IdentityInput {
                    kind: IdentityKind::Email,
                    raw: "c@x.com".into(),
                    primary: false,
                    field: "contact.emails[1].address".into(),
                },
            ]),
            ..ContactPatch::default()
        };
        let change = plan_update(
            &current,
            &patch,
            None,
            &[],
            None,
            tenant.default_region,
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(change.expected_version, 4);
        assert_eq!(
            change.remove,
            [IdentityKey {
                kind: IdentityKind::Email,
                value: "a@x.com".into()
            }]
        );
        assert_eq!(change.add, [held(IdentityKind::Email, "c@x.com", false)]);
        assert_eq!(change.restate, [held(IdentityKind::Email, "b@x.com", true)]);
    }

    #[test]
    fn a_patch_may_not_smuggle_a_kind_into_the_wrong_list() {
        let tenant = tenant();
        let current = Contact {
            id: ContactId::from_uuid(Uuid::now_v7()),
            tenant_id: tenant.id,
            fields: ContactFields::default(),
            identities: vec![],
            tags: Vec::new(),
            tier: None,
            custom_fields: Default::default(),
            engagement: Default::default(),
            version: 1,
            create_time: OffsetDateTime::UNIX_EPOCH,
            update_time: OffsetDateTime::UNIX_EPOCH,
        };
        let patch = ContactPatch {
            channel_identities: Some(vec![IdentityInput {
                kind: IdentityKind::Email,
                raw: "a@x.com".into(),
                primary: false,
                field: "contact.identities[0]".into(),
            }]),
            ..ContactPatch::default()
        };
        let error = plan_update(
            &current,
            &patch,
            None,
            &[],
            None,
            tenant.default_region,
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap_err();
        assert!(
            matches!(error, DomainError::InvalidArgument(v) if v[0].field == "contact.identities[0]")
        );
    }
}
