//! The records the checks build: one function per kind, each a valid record
//! of a given tenant with the fields a check cares about as arguments.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::prelude::*;

pub fn now() -> OffsetDateTime {
    use crate::kernel::Clock;
    SystemClock.now()
}

pub async fn tenant(world: &dyn World) -> Tenant {
    let tenant = Tenant {
        id: TenantId::from_uuid(Uuid::now_v7()),
        name: "Acme".into(),
        default_region: Region::parse("US").unwrap(),
        free_mail_domains: Vec::new(),
        shared_addresses: Vec::new(),
        version: 1,
        create_time: now(),
        update_time: now(),
    };
    world
        .tenants()
        .create(&tenant, &format!("hash-{}", tenant.id))
        .await
        .unwrap();
    tenant
}

pub fn identity(kind: IdentityKind, value: &str, primary: bool) -> ContactIdentity {
    ContactIdentity {
        kind,
        value: value.into(),
        raw: value.to_uppercase(),
        primary,
    }
}

pub fn contact(tenant: &Tenant, identities: Vec<ContactIdentity>) -> Contact {
    let now = now();
    Contact {
        id: ContactId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        fields: ContactFields {
            display_name: "Ana Souza".into(),
            city: "São Paulo".into(),
            country: "BR".into(),
            language: "pt-BR".into(),
            avatar_url: "https://cdn.example.com/ana.png".into(),
            blocked: false,
            lifecycle_stage: LifecycleStage::Customer,
            tier_id: None,
            affiliation: Affiliation::None,
        },
        identities,
        tags: Vec::new(),
        tier: None,
        custom_fields: Default::default(),
        engagement: Default::default(),
        version: 1,
        create_time: now,
        update_time: now,
    }
}

pub fn key(kind: IdentityKind, value: &str) -> IdentityKey {
    IdentityKey {
        kind,
        value: value.into(),
    }
}

pub async fn created(repository: &dyn ContactRepository, contact: &Contact) -> Contact {
    match repository.create(contact, None).await.unwrap() {
        CreateOutcome::Created(contact) => *contact,
        other => panic!("expected a create, got {other:?}"),
    }
}

pub fn tier(tenant: &Tenant, name: &str, auto_tags: &[&str]) -> Tier {
    let now = now();
    Tier {
        id: TierId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        fields: TierFields {
            name: name.into(),
            color: "#FFD700".into(),
            sla: SlaPolicy {
                first_response: Some(time::Duration::minutes(5)),
                resolution: None,
            },
            auto_tags: auto_tags.iter().map(|tag| (*tag).to_owned()).collect(),
        },
        rank: 0,
        version: 1,
        create_time: now,
        update_time: now,
    }
}

pub fn definition(tenant: &Tenant, key: &str, field_type: FieldType) -> FieldDefinition {
    let now = now();
    FieldDefinition {
        id: FieldId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        entity: FieldEntity::Contact,
        key: key.into(),
        spec: FieldSpec {
            display_name: key.into(),
            description: String::new(),
            field_type,
            required: false,
            default: None,
            validation: Validation::default(),
            options: Vec::new(),
        },
        section_id: None,
        position: 0,
        version: 1,
        create_time: now,
        update_time: now,
    }
}

pub fn layout_tab(tenant: &Tenant, name: &str) -> Tab {
    let now = now();
    Tab {
        id: TabId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        entity: FieldEntity::Contact,
        name: name.into(),
        position: 0,
        version: 1,
        create_time: now,
        update_time: now,
    }
}

pub fn layout_section(tab: &Tab, name: &str) -> Section {
    Section {
        id: SectionId::from_uuid(Uuid::now_v7()),
        tenant_id: tab.tenant_id,
        tab_id: tab.id,
        name: name.into(),
        position: 0,
        version: 1,
        create_time: tab.create_time,
        update_time: tab.update_time,
    }
}

pub fn organization(tenant: &Tenant, name: &str, domains: &[&str]) -> Organization {
    let now = now();
    Organization {
        id: OrganizationId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        fields: OrganizationFields {
            name: name.into(),
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            description: String::new(),
        },
        custom_fields: Default::default(),
        member_count: 0,
        version: 1,
        create_time: now,
        update_time: now,
    }
}

pub fn note(tenant: &Tenant, owner: RecordRef, body: &str, pinned: bool) -> Note {
    let now = now();
    Note {
        id: NoteId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        owner,
        fields: NoteFields {
            author: "agent-7".into(),
            body: body.into(),
            format: NoteFormat::Markdown,
            pinned,
        },
        version: 1,
        create_time: now,
        update_time: now,
    }
}

pub fn conversation(
    tenant: &Tenant,
    contact: ContactId,
    source_id: &str,
    channel: Channel,
    started_minutes: i64,
    csat: Option<u8>,
) -> Conversation {
    let now = now();
    Conversation {
        id: ConversationId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        contact_id: contact,
        source: "helpdesk".into(),
        source_id: source_id.into(),
        fields: ConversationFields {
            channel,
            started_at: now + time::Duration::minutes(started_minutes),
            ended_at: None,
            status: ConversationStatus::Open,
            agent_id: String::new(),
            agent_name: String::new(),
            team: String::new(),
            subject: String::new(),
            outcome: String::new(),
            message_count: 4,
            csat,
        },
        custom_fields: Default::default(),
        version: 1,
        create_time: now,
        update_time: now,
    }
}

/// A stored contact of `tenant` known by one primary email `address`.
pub async fn contact_with_email(world: &dyn World, tenant: &Tenant, address: &str) -> Contact {
    created(
        world.contacts().as_ref(),
        &contact(tenant, vec![identity(IdentityKind::Email, address, true)]),
    )
    .await
}

/// An attachment record of `bytes` on `owner`.
pub fn attachment(tenant: &Tenant, owner: RecordRef, bytes: &[u8]) -> Attachment {
    Attachment {
        id: AttachmentId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant.id,
        owner,
        file_name: "notes.txt".into(),
        content_type: "text/plain".into(),
        size: u64::try_from(bytes.len()).unwrap(),
        sha256: Sha256::of(bytes),
        uploaded_by: "agent-7".into(),
        create_time: now(),
    }
}

/// Stages `bytes` in the world's blob store, sealed and ready to publish.
pub async fn staged(world: &dyn World, bytes: &[u8]) -> Box<dyn StagedBlob> {
    let mut staged = world.blobs().stage().await.unwrap();
    staged.write(bytes).await.unwrap();
    staged.seal().await.unwrap();
    staged
}

/// Stores an attachment of `bytes` on `owner`, as the upload use case does.
pub async fn attached(
    world: &dyn World,
    tenant: &Tenant,
    owner: RecordRef,
    bytes: &[u8],
) -> Attachment {
    let attachment = attachment(tenant, owner, bytes);
    let mut bytes = staged(world, bytes).await;
    world
        .attachments()
        .create(&attachment, bytes.as_mut())
        .await
        .unwrap()
}

/// Whether the world's blob store holds bytes under `key`.
pub async fn holds_bytes(world: &dyn World, key: &BlobKey) -> bool {
    world.blobs().open(key).await.is_ok()
}
