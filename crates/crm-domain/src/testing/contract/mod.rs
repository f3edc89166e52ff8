//! The contract suite of the repository ports: one module of checks per
//! port, written against the traits only, so every adapter (the sea-orm
//! store on SQLite and on PostgreSQL, an in-memory fake, a read replica) is
//! proved by the same checks.
//!
//! An adapter implements [`World`] (fresh, empty repositories of every port
//! and a blob store) and expands [`contract_suite!`](crate::contract_suite)
//! once per configuration; the macro writes one `#[tokio::test]` per check
//! in the caller's crate, as quickwit's `metastore_test_suite!` does, so a
//! failure names the check and the configuration, and this crate needs no
//! runtime. Each check takes `&dyn World` and panics when the adapter
//! breaks the contract.

pub mod attachments;
pub mod contacts;
pub mod conversations;
pub mod custom_fields;
pub mod fixtures;
pub mod merges;
pub mod notes;
pub mod organizations;
pub mod tenants;
pub mod tiers;

use std::sync::Arc;

use async_trait::async_trait;

use crate::attachments::{AttachmentRepository, BlobStore};
use crate::contacts::ContactRepository;
use crate::conversations::ConversationRepository;
use crate::fields::CustomFieldRepository;
use crate::merge::MergeRepository;
use crate::merge::index::DuplicateIndex;
use crate::notes::NoteRepository;
use crate::organizations::OrganizationRepository;
use crate::tenancy::TenantRepository;
use crate::tiers::TierRepository;

/// Fresh repositories of every port, over one empty store, for one check.
/// Checks that need a tenant create one through [`World::tenants`] (see
/// [`fixtures::tenant`]), so several tenants can share a world.
#[async_trait]
pub trait World: Send + Sync + 'static {
    /// The contact repository.
    fn contacts(&self) -> Arc<dyn ContactRepository>;
    /// The tenant repository.
    fn tenants(&self) -> Arc<dyn TenantRepository>;
    /// The tier repository.
    fn tiers(&self) -> Arc<dyn TierRepository>;
    /// The custom-field and layout repository.
    fn custom_fields(&self) -> Arc<dyn CustomFieldRepository>;
    /// The organization repository.
    fn organizations(&self) -> Arc<dyn OrganizationRepository>;
    /// The note repository.
    fn notes(&self) -> Arc<dyn NoteRepository>;
    /// The conversation repository.
    fn conversations(&self) -> Arc<dyn ConversationRepository>;
    /// The merge repository.
    fn merges(&self) -> Arc<dyn MergeRepository>;
    /// The standing duplicate index.
    fn duplicates(&self) -> Arc<dyn DuplicateIndex>;
    /// The attachment repository.
    fn attachments(&self) -> Arc<dyn AttachmentRepository>;
    /// A blob store for the attachment repository's bytes, empty at first.
    fn blobs(&self) -> Arc<dyn BlobStore>;
    /// Removes what the world created (a database, a directory); called
    /// once the check is over, whether it passed or not.
    async fn destroy(&self);
}

/// What every check module uses.
pub(crate) mod prelude {
    pub(crate) use std::sync::Arc;

    pub(crate) use time::OffsetDateTime;
    pub(crate) use uuid::Uuid;

    pub(crate) use super::World;
    pub(crate) use super::fixtures;
    pub(crate) use super::fixtures::*;
    pub(crate) use crate::attachments::{Attachment, BlobKey, Sha256, StagedBlob};
    pub(crate) use crate::contacts::{Contact, ContactFields, LifecycleStage};
    pub(crate) use crate::contacts::{
        ContactChange, ContactCursor, ContactFilter, ContactRepository, CreateOutcome,
        MAX_KEYS_PER_READ, ResolvedCreate,
    };
    pub(crate) use crate::conversations::{
        Conversation, ConversationFields, ConversationFilter, ConversationStatus,
    };
    pub(crate) use crate::fields::DefinitionsFor;
    pub(crate) use crate::fields::layout::{Section, Tab};
    pub(crate) use crate::fields::{
        FieldDefinition, FieldEntity, FieldSpec, FieldType, FieldValue, SelectOption, Validation,
    };
    pub(crate) use crate::identity::ContactIdentity;
    pub(crate) use crate::kernel::{Presence, RecordRef};
    pub(crate) use crate::kernel::{SystemClock, UuidV7Ids};
    pub(crate) use crate::notes::{Note, NoteCursor, NoteFields, NoteFormat};
    pub(crate) use crate::organizations::{Affiliation, Organization, OrganizationFields};
    pub(crate) use crate::routing::MAX_ROUTING_SUBJECTS;
    pub(crate) use crate::tenancy::Tenant;
    pub(crate) use crate::tiers::TierContacts;
    pub(crate) use crate::tiers::{SlaPolicy, Tier, TierFields};
    pub(crate) use crate::{
        AttachmentId, Channel, ContactId, ConversationId, DomainError, FieldId, IdentityKey,
        IdentityKind, NoteId, OrganizationId, Region, SectionId, TabId, TenantId, TierId,
    };
}

/// Expands the contract suite in the calling crate: one
/// `#[tokio::test]` per check (a module per port), each on a fresh world
/// from `$world`, an expression of a future giving a [`World`]; it is
/// pasted into every test, so its paths must be absolute
/// (`crate::...`). The caller depends on tokio (with `macros` and
/// `rt-multi-thread`) and on this crate's `testing` feature.
///
/// ```ignore
/// mod sqlite {
///     crm_domain::contract_suite!(crate::StoreWorld::create(Backend::Sqlite));
/// }
/// ```
#[macro_export]
macro_rules! contract_suite {
    ($world:expr) => {
        $crate::contract_suite!(@checks $world;
            attachments: [
                attachments_list_newest_first_and_stay_in_their_tenant,
                an_attachment_on_a_missing_owner_is_refused_and_publishes_nothing,
                bytes_go_with_the_last_record_that_holds_them,
                claims_without_records_are_released_and_swept,
            ];
            contacts: [
                a_created_contact_reads_back_exactly,
                an_address_has_one_holder_and_a_refused_create_writes_nothing,
                a_request_id_replays_the_first_create,
                listing_pages_by_id_within_the_tenant,
                updates_are_version_guarded_and_atomic,
                deleting_frees_the_addresses,
                holders_are_found_with_all_their_identities,
                a_resolved_create_is_all_or_nothing,
                attaching_skips_held_addresses_and_bumps_the_version_only_on_change,
                another_tenant_cannot_see_or_touch_a_contact,
                contacts_carry_tags_and_their_tier_and_list_by_tag,
                lists_at_their_documented_maximum_fit_every_backend,
            ];
            conversations: [recording_is_idempotent_and_keeps_engagement_current];
            custom_fields: [
                field_definitions_are_unique_per_key_and_found_for_writes,
                values_block_a_type_change_and_go_with_their_field,
                the_layout_nests_tabs_sections_and_fields_in_order,
            ];
            merges: [
                a_merge_moves_everything_and_leaves_tombstones,
                the_duplicate_index_follows_every_write,
            ];
            notes: [notes_list_pinned_first_then_newest_and_go_with_their_record];
            organizations: [organizations_own_domains_and_pick_up_unaffiliated_contacts];
            tenants: [
                tenants_are_found_by_key_hash_and_updated_under_a_version,
                tenants_are_listed_oldest_first_and_a_replaced_key_stops_matching,
            ];
            tiers: [
                tiers_rank_in_creation_order_with_unique_names_and_a_limit,
                reordering_rewrites_ranks_and_refuses_a_stale_set,
                deleting_a_tier_refuses_moves_or_clears_its_contacts,
            ];
        );

        $crate::contract_suite!(@property $world;
            /// The merge's conservation property.
            merges::merging_never_loses_a_child_record_and_cannot_be_repeated,
            /// The engagement figures' exactness: after random records,
            /// moves, updates, deletes and merges they equal a recount.
            conversations::engagement_always_equals_a_recount,
        );
    };
    (@property $world:expr; $($(#[$doc:meta])* $module:ident::$property:ident,)*) => {
        $(
            $(#[$doc])*
            /// On one world: proptest drives the cases (each on a fresh
            /// tenant) through the caller's runtime.
            #[test]
            fn $property() {
                let runtime = ::tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a tokio runtime");
                let world = runtime.block_on($world);
                let verdict = $crate::testing::contract::$module::$property(
                    &world,
                    &|check| runtime.block_on(check),
                );
                runtime.block_on($crate::testing::contract::World::destroy(&world));
                if let Err(failure) = verdict {
                    panic!("{failure}");
                }
            }
        )*
    };
    (@checks $world:expr; $($port:ident: [$($check:ident),* $(,)?];)*) => {
        $(
            mod $port {
                $(
                    #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $check() {
                        let world = ::std::sync::Arc::new($world.await);
                        // The check runs in a task of its own, so the world is
                        // destroyed even when it panics.
                        let outcome = ::tokio::spawn({
                            let world = world.clone();
                            async move {
                                $crate::testing::contract::$port::$check(&*world).await;
                            }
                        })
                        .await;
                        $crate::testing::contract::World::destroy(&*world).await;
                        if let Err(failure) = outcome {
                            ::std::panic::resume_unwind(failure.into_panic());
                        }
                    }
                )*
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    /// Every check of every port module is expanded by `contract_suite!`:
    /// a check written but not listed there would never run.
    #[test]
    fn the_suite_macro_lists_every_check() {
        let modules = [
            ("attachments", include_str!("attachments.rs")),
            ("contacts", include_str!("contacts.rs")),
            ("conversations", include_str!("conversations.rs")),
            ("custom_fields", include_str!("custom_fields.rs")),
            ("merges", include_str!("merges.rs")),
            ("notes", include_str!("notes.rs")),
            ("organizations", include_str!("organizations.rs")),
            ("tenants", include_str!("tenants.rs")),
            ("tiers", include_str!("tiers.rs")),
        ];
        let suite = include_str!("mod.rs");
        let mut checks = 0;
        for (module, text) in modules {
            for line in text.lines() {
                let Some(rest) = line.strip_prefix("pub async fn ") else {
                    continue;
                };
                let name = rest.split('(').next().unwrap_or_default();
                checks += 1;
                assert!(
                    suite.contains(&format!("                {name},"))
                        || suite.contains(&format!("[{name}]")),
                    "{module}::{name} is not in contract_suite!"
                );
            }
        }
        assert!(
            checks >= 25,
            "only {checks} checks found: the reader is broken"
        );
    }
}
