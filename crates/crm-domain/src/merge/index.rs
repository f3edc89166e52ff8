//! The standing duplicate index, as pure rules and a port.
//!
//! FindDuplicateContacts used to read the whole tenant on every call. The
//! index keeps, for every contact, its blocking keys (its name key under its
//! organization, each non-free-mail email domain and its city; and each
//! address it holds as data) and the edges that its examination found.
//! Every write queues the contact it touched (triggers in the store, in the
//! same transaction, whatever path wrote); examining a queued contact
//! replaces its keys, looks up its neighbours through the key indexes, and
//! replaces the edges it found. A finding call reads only the edges.
//!
//! Edges stay true without a rescan: an edge is evidence between two
//! contacts' current keys. When a contact changes, every edge touching it
//! that another contact found is dropped and that contact is queued to look
//! again ("recheck": it re-finds its own edges but queues nobody, so
//! nothing ping-pongs). A contact whose identity is held by another as data
//! queues that holder too, since only the holder finds such an edge.
//!
//! Blocks of equal names (same name in one organization, at one domain, or
//! in one city) are linked as a star on their lowest contact id (each
//! member to it, it to the next lowest), so a block of any size costs one
//! edge per member and stays one group.

use async_trait::async_trait;

use crate::contacts::Contact;
use crate::identity::{IdentityKey, IdentityKind};
use crate::kernel::{ContactId, DomainError, TenantId};
use crate::merge::duplicates::{self, DuplicateReason, Evidence};
use crate::tenancy::Tenant;

/// Which block a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Block {
    /// The name key within an organization (`key`: the organization id).
    Organization,
    /// The name key at a non-free-mail email domain (`key`: the domain).
    Domain,
    /// The name key in a city (`key`: the city's key).
    City,
    /// An address held as data (`key`: `kind:value`; `name`: the field).
    Address,
}

impl Block {
    /// Its stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Block::Organization => "o",
            Block::Domain => "d",
            Block::City => "c",
            Block::Address => "a",
        }
    }

    /// The block a stored form names.
    pub fn parse(text: &str) -> Option<Block> {
        Some(match text {
            "o" => Block::Organization,
            "d" => Block::Domain,
            "c" => Block::City,
            "a" => Block::Address,
            _ => return None,
        })
    }
}

/// One blocking key of a contact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MatchKey {
    /// The block.
    pub block: Block,
    /// The block's key.
    pub key: String,
    /// The contact's name key (for [`Block::Address`], the field).
    pub name: String,
}

impl MatchKey {
    /// The name read backwards, for neighbours that share an ending.
    pub fn reversed(&self) -> String {
        self.name.chars().rev().collect()
    }
}

/// The stored key of an address held as data.
pub fn address_key(key: &IdentityKey) -> String {
    format!("{}:{}", key.kind.as_str(), key.value)
}

/// The address an [`address_key`] names.
pub fn address_of(key: &str) -> Option<IdentityKey> {
    let (kind, value) = key.split_once(':')?;
    Some(IdentityKey {
        kind: IdentityKind::parse(kind)?,
        value: value.to_owned(),
    })
}

/// The blocking keys of `contact` in `tenant`, sorted.
pub fn keys(contact: &Contact, tenant: &Tenant) -> Vec<MatchKey> {
    let facts = duplicates::Facts::of(contact, tenant);
    let mut keys = Vec::new();
    if !facts.name.is_empty() {
        if let Some(organization) = facts.organization {
            keys.push(MatchKey {
                block: Block::Organization,
                key: organization.to_string(),
                name: facts.name.clone(),
            });
        }
        for domain in &facts.domains {
            keys.push(MatchKey {
                block: Block::Domain,
                key: domain.clone(),
                name: facts.name.clone(),
            });
        }
        if !facts.city.is_empty() {
            keys.push(MatchKey {
                block: Block::City,
                key: facts.city.clone(),
                name: facts.name.clone(),
            });
        }
    }
    for (address, field) in duplicates::field_addresses(contact, tenant) {
        keys.push(MatchKey {
            block: Block::Address,
            key: address_key(&address),
            name: field,
        });
    }
    keys.sort();
    keys.dedup_by(|a, b| a.block == b.block && a.key == b.key);
    keys
}

/// The addresses that identify `contact` and may be held by others as
/// data (emails and phones the tenant does not ignore).
pub fn identity_addresses(contact: &Contact, tenant: &Tenant) -> Vec<IdentityKey> {
    contact
        .identities
        .iter()
        .map(|identity| identity.key())
        .filter(|key| matches!(key.kind, IdentityKind::Email | IdentityKind::Phone))
        .filter(|key| !tenant.ignores(key))
        .collect()
}

/// A contact waiting to be examined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// The contact.
    pub id: ContactId,
    /// Its change count when read: the entry is removed only if unchanged
    /// (-1 for a contact only a sweep gave, which removes no entry).
    pub mark: i64,
    /// Queued by the indexer (look again), not by a change.
    pub recheck: bool,
    /// Taken by the sweep that follows a change of the tenant's settings
    /// (every contact looked at again, in id order), and of which change:
    /// the sweep moves past this contact only if no newer change restarted
    /// it. Examined as a changed contact is.
    pub sweep: Option<i64>,
}

/// What the index is asked about one key of an examined contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The examined contact (never in its own answer).
    pub contact: ContactId,
    /// Its key.
    pub key: MatchKey,
    /// Whether to read neighbours by name, not only equal names.
    pub near: bool,
}

/// The index's answer to a [`Probe`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Neighbours {
    /// The lowest-id other contact with the same name in the block.
    pub same: Option<ContactId>,
    /// Up to [`WINDOW`] other names on each side of the name, in name order
    /// and in reversed-name order, with their contacts.
    pub near: Vec<(ContactId, String)>,
}

/// How many neighbours on each side a name is compared with.
pub const WINDOW: u32 = 4;

/// An edge and the contact whose examination found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundEdge {
    /// One contact (the smaller id).
    pub a: ContactId,
    /// The other.
    pub b: ContactId,
    /// Why they look alike.
    pub evidence: Evidence,
    /// Who found it.
    pub found_by: ContactId,
}

impl FoundEdge {
    fn new(x: ContactId, y: ContactId, evidence: Evidence) -> Option<FoundEdge> {
        (x != y).then(|| FoundEdge {
            a: x.min(y),
            b: x.max(y),
            evidence,
            found_by: x,
        })
    }
}

/// The probes examining a contact with `keys` needs.
pub fn probes(contact: ContactId, keys: &[MatchKey]) -> Vec<Probe> {
    keys.iter()
        .filter(|key| key.block != Block::Address)
        .map(|key| Probe {
            contact,
            key: key.clone(),
            near: key.block != Block::Domain,
        })
        .collect()
}

fn ordered<'a>(x: &'a str, y: &'a str) -> (&'a str, &'a str) {
    if x <= y { (x, y) } else { (y, x) }
}

/// The edges a probe's answer makes.
pub fn edges_of(probe: &Probe, found: &Neighbours) -> Vec<FoundEdge> {
    let x = probe.contact;
    let name = &probe.key.name;
    let mut edges = Vec::new();
    if let Some(same) = found.same {
        let evidence = match probe.key.block {
            Block::Organization => Evidence {
                reason: DuplicateReason::SameNameSameOrganization,
                detail: name.clone(),
            },
            Block::Domain => Evidence {
                reason: DuplicateReason::SameNameSameEmailDomain,
                detail: format!("{name} at {}", probe.key.key),
            },
            Block::City => Evidence {
                reason: DuplicateReason::SimilarNameSameCity,
                detail: format!("{name} ~ {name} in {}", probe.key.key),
            },
            Block::Address => return edges,
        };
        edges.extend(FoundEdge::new(x, same, evidence));
    }
    for (other, other_name) in &found.near {
        if !duplicates::similar(name, other_name) {
            continue;
        }
        let (first, second) = ordered(name, other_name);
        let evidence = match probe.key.block {
            Block::Organization => Evidence {
                reason: DuplicateReason::SimilarNameSameOrganization,
                detail: format!("{first} ~ {second}"),
            },
            Block::City => Evidence {
                reason: DuplicateReason::SimilarNameSameCity,
                detail: format!("{first} ~ {second} in {}", probe.key.key),
            },
            Block::Domain | Block::Address => continue,
        };
        edges.extend(FoundEdge::new(x, *other, evidence));
    }
    edges
}

/// The edges `contact`'s field addresses (its [`Block::Address`] keys)
/// make with the contacts holding them as identities: `holders` pairs an
/// address key with a contact holding it.
pub fn address_edges(
    contact: ContactId,
    keys: &[MatchKey],
    holders: &[(String, ContactId)],
) -> Vec<FoundEdge> {
    let mut edges = Vec::new();
    for key in keys.iter().filter(|key| key.block == Block::Address) {
        for (address, holder) in holders.iter().filter(|(address, _)| *address == key.key) {
            let value = address.split_once(':').map_or("", |(_, value)| value);
            edges.extend(FoundEdge::new(
                contact,
                *holder,
                Evidence {
                    reason: DuplicateReason::AddressInField,
                    detail: format!("{}: {value}", key.name),
                },
            ));
        }
    }
    edges
}

/// One waiting contact as the indexer examines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Examined {
    /// The waiting entry.
    pub pending: Pending,
    /// Its keys now (none when it is gone).
    pub keys: Vec<MatchKey>,
    /// Its addresses others may hold as data (see [`identity_addresses`]).
    pub identities: Vec<IdentityKey>,
}

/// Storage of the standing duplicate index.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait DuplicateIndex: Send + Sync {
    /// Up to `limit` tenants with contacts waiting, leaving out those with
    /// an import queued or running (the index takes an import in after it
    /// ends rather than slow its batches down).
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn tenants_pending(&self, limit: u32) -> Result<Vec<TenantId>, DomainError>;

    /// Up to `limit` of the tenant's waiting contacts: those queued by
    /// changes first, then, while a settings sweep runs, the next contacts
    /// in id order.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn pending(&self, tenant: TenantId, limit: u32) -> Result<Vec<Pending>, DomainError>;

    /// The tenant as stored now: its settings decide what counts as
    /// evidence, and a caller's copy may predate the settings change that
    /// queued the contacts. Read after [`DuplicateIndex::pending`]: a
    /// change committed in between bumps the marks read, so what is
    /// examined with older settings stays queued.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn tenant(&self, tenant: TenantId) -> Result<Option<Tenant>, DomainError>;

    /// How many of the tenant's contacts wait (queued, plus those a
    /// running sweep has still to reach).
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn pending_count(&self, tenant: TenantId) -> Result<u64, DomainError>;

    /// The contacts among `ids` that exist (merged-away and deleted ones
    /// are absent).
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn contacts(
        &self,
        tenant: TenantId,
        ids: &[ContactId],
    ) -> Result<Vec<Contact>, DomainError>;

    /// Takes `batch` in, in one transaction and with one examiner per
    /// tenant at a time:
    /// 1. each entry queued by a change gets its keys; every edge touching
    ///    it that another contact found is dropped and that finder queued
    ///    for a recheck, and so is every contact holding one of its
    ///    `identities` as data;
    /// 2. each entry's own edges are replaced by those its keys make now:
    ///    [`probes`] answered from the key indexes and read by
    ///    [`edges_of`], and [`address_edges`] with the holders of its
    ///    field addresses;
    /// 3. each entry is removed if it is still at its mark, and a sweep
    ///    moves past the entries it gave, unless restarted since.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn examine(&self, tenant: TenantId, batch: &[Examined]) -> Result<(), DomainError>;

    /// The tenant's edges, at most `limit`.
    ///
    /// # Errors
    /// `Unavailable`; `Internal`.
    async fn edges(&self, tenant: TenantId, limit: u64) -> Result<Vec<FoundEdge>, DomainError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn id(n: u128) -> ContactId {
        ContactId::from_uuid(Uuid::from_u128(n))
    }

    fn probe(block: Block, key: &str, name: &str) -> Probe {
        Probe {
            contact: id(5),
            key: MatchKey {
                block,
                key: key.into(),
                name: name.into(),
            },
            near: block != Block::Domain,
        }
    }

    #[test]
    fn a_probe_answer_makes_edges_with_the_old_evidence() {
        let found = Neighbours {
            same: Some(id(1)),
            near: vec![
                (id(7), "ana sousa".into()),
                (id(8), "bruno lima".into()),
                (id(5), "ana souza".into()),
            ],
        };
        let edges = edges_of(&probe(Block::City, "porto", "ana souza"), &found);
        let shown: Vec<(ContactId, ContactId, &str)> = edges
            .iter()
            .map(|edge| (edge.a, edge.b, edge.evidence.detail.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                (id(1), id(5), "ana souza ~ ana souza in porto"),
                (id(5), id(7), "ana sousa ~ ana souza in porto"),
            ]
        );
        assert!(edges.iter().all(|edge| edge.found_by == id(5)));
        let domain = edges_of(&probe(Block::Domain, "acme.com", "ana souza"), &found);
        assert_eq!(domain.len(), 1, "a domain links equal names only");
        assert_eq!(domain[0].evidence.detail, "ana souza at acme.com");
    }

    #[test]
    fn address_probes_are_not_asked_and_blocks_parse_back() {
        let keys = [
            MatchKey {
                block: Block::Address,
                key: "email:a@b.example".into(),
                name: "custom_fields.backup".into(),
            },
            MatchKey {
                block: Block::Organization,
                key: "x".into(),
                name: "ana".into(),
            },
        ];
        let asked = probes(id(1), &keys);
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].key.block, Block::Organization);
        for block in [
            Block::Organization,
            Block::Domain,
            Block::City,
            Block::Address,
        ] {
            assert_eq!(Block::parse(block.as_str()), Some(block));
        }
        assert_eq!(Block::parse("z"), None);
        assert_eq!(keys[1].reversed(), "ana");
    }
}
