//! Finding contacts that are probably the same person, as pure rules.
//!
//! Each contact is reduced to a few facts (a name key, its city,
//! organization, email domains, and the addresses its custom fields hold);
//! contacts that share a blocking key are compared, and every pair that
//! matches becomes an edge carrying its evidence. Groups are the connected
//! components of those edges, minus the pairs an operator marked "not
//! duplicates". Shared or blocked addresses (see [`crate::tenancy`]) and
//! free-mail domains never count as evidence.
//!
//! Evidence and its weight:
//! - the same name (ignoring case, accents, spacing and word order) in the
//!   same organization (0.9) or at the same non-free-mail email domain
//!   (0.85);
//! - an address stored on one contact as data (an email- or phone-typed
//!   custom field) that is another contact's identity (0.95);
//! - near-identical names (one or two edits apart, by length) sharing an
//!   organization (0.7) or a city (0.6).
//!
//! A group's score is `1 - prod(1 - weight)` over its distinct kinds of
//! evidence, so two independent signals score higher than either.

use crate::identity;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::contacts::Contact;
use crate::fields::FieldValue;
use crate::identity::IdentityKey;
use crate::identity::IdentityKind;
use crate::kernel::{ContactId, DomainError, OrganizationId};
use crate::merge::MAX_MARKED;
use crate::tenancy::Tenant;

/// Why two contacts look like one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DuplicateReason {
    /// An address one holds as data is the other's identity.
    AddressInField,
    /// The same name in the same organization.
    SameNameSameOrganization,
    /// The same name at the same (non-free-mail) email domain.
    SameNameSameEmailDomain,
    /// Near-identical names in the same organization.
    SimilarNameSameOrganization,
    /// Near-identical names in the same city.
    SimilarNameSameCity,
}

impl DuplicateReason {
    /// How strongly it suggests one person, from 0 to 1.
    pub fn weight(self) -> f64 {
        match self {
            DuplicateReason::AddressInField => 0.95,
            DuplicateReason::SameNameSameOrganization => 0.9,
            DuplicateReason::SameNameSameEmailDomain => 0.85,
            DuplicateReason::SimilarNameSameOrganization => 0.7,
            DuplicateReason::SimilarNameSameCity => 0.6,
        }
    }
}

/// One piece of evidence: a reason and what it rests on (the name, the
/// domain, the address, the city).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Evidence {
    /// The reason.
    pub reason: DuplicateReason,
    /// What it rests on.
    pub detail: String,
}

/// Contacts that are probably one person.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateGroup {
    /// The contacts, by id.
    pub contacts: Vec<ContactId>,
    /// Every piece of evidence between them.
    pub evidence: Vec<Evidence>,
    /// How likely they are one person, from 0 to 1 (two decimals).
    pub score: f64,
}

/// A name reduced for comparison: accents removed, lower case, anything
/// but letters and digits taken for a space, words sorted.
pub fn name_key(name: &str) -> String {
    let plain: String = name
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words: Vec<&str> = plain.split_whitespace().collect();
    words.sort_unstable();
    words.join(" ")
}

/// Whether two different name keys are near-identical: one edit apart, or
/// two when both are at least 8 characters long, with the same digits
/// ("Store 12" and "Store 13", "Imported 41" and "Imported 42" are
/// different parties, however close their spelling).
pub fn similar(a: &str, b: &str) -> bool {
    let shorter = a.chars().count().min(b.chars().count());
    if a == b || shorter < 3 {
        return false;
    }
    let digits = |name: &str| {
        name.chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
    };
    if digits(a) != digits(b) {
        return false;
    }
    let allowed = if shorter >= 8 { 2 } else { 1 };
    strsim::levenshtein(a, b) <= allowed
}

/// What duplicate finding needs of one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The contact.
    pub id: ContactId,
    /// Its name key (empty when it has no name).
    pub name: String,
    /// Its city, keyed like a name (empty when none).
    pub city: String,
    /// Its organization.
    pub organization: Option<OrganizationId>,
    /// The domains of its emails that are not free mail nor shared.
    pub domains: Vec<String>,
}

impl Facts {
    /// The facts of `contact` in `tenant`.
    pub fn of(contact: &Contact, tenant: &Tenant) -> Facts {
        let mut domains: Vec<String> = contact
            .identities_of(IdentityKind::Email)
            .filter(|email| !tenant.ignores(&email.key()))
            .filter_map(|email| email.value.rsplit_once('@').map(|(_, d)| d.to_owned()))
            .filter(|domain| !identity::is_free_mail(domain, &tenant.free_mail_domains))
            .collect();
        domains.sort();
        domains.dedup();
        Facts {
            id: contact.id,
            name: name_key(&contact.fields.display_name),
            city: name_key(&contact.fields.city),
            organization: contact.fields.affiliation.organization(),
            domains,
        }
    }
}

/// The addresses `contact` holds as data (email- and phone-typed custom
/// fields), as identity keys, with the field each sits in; shared ones left
/// out.
pub fn field_addresses(contact: &Contact, tenant: &Tenant) -> Vec<(IdentityKey, String)> {
    contact
        .custom_fields
        .iter()
        .filter_map(|(key, value)| {
            let (kind, address) = match value {
                FieldValue::Email(address) => (IdentityKind::Email, address),
                FieldValue::Phone(address) => (IdentityKind::Phone, address),
                _ => return None,
            };
            let identity = IdentityKey {
                kind,
                value: address.clone(),
            };
            (!tenant.ignores(&identity)).then(|| (identity, format!("custom_fields.{key}")))
        })
        .collect()
}

/// Edges between pairs of contacts, each with its evidence.
#[derive(Debug, Default)]
pub struct Edges(BTreeMap<(ContactId, ContactId), BTreeSet<Evidence>>);

/// Blocks larger than this link their members in a chain instead of every
/// pair with every other (the groups come out the same).
const FULL_PAIRS_UP_TO: usize = 20;

/// How many neighbours in sorted order a name is compared with.
const WINDOW: usize = 4;

impl Edges {
    /// Records that `a` and `b` look alike for `evidence`.
    pub fn add(&mut self, a: ContactId, b: ContactId, evidence: Evidence) {
        if a == b {
            return;
        }
        let pair = if a < b { (a, b) } else { (b, a) };
        self.0.entry(pair).or_default().insert(evidence);
    }

    fn block(&mut self, members: &[ContactId], evidence: &Evidence) {
        if members.len() <= FULL_PAIRS_UP_TO {
            for (index, a) in members.iter().enumerate() {
                for b in &members[index + 1..] {
                    self.add(*a, *b, evidence.clone());
                }
            }
        } else {
            for pair in members.windows(2) {
                self.add(pair[0], pair[1], evidence.clone());
            }
        }
    }

    /// Links contacts with the same name in the same organization or at the
    /// same email domain, and near-identical names sharing an organization
    /// or a city.
    pub fn add_names(&mut self, facts: &[Facts]) {
        let mut by_organization: HashMap<(&str, OrganizationId), Vec<ContactId>> = HashMap::new();
        let mut by_domain: HashMap<(&str, &str), Vec<ContactId>> = HashMap::new();
        let mut near_organization: HashMap<OrganizationId, Vec<(&str, ContactId)>> = HashMap::new();
        let mut near_city: HashMap<&str, Vec<(&str, ContactId)>> = HashMap::new();
        for fact in facts.iter().filter(|fact| !fact.name.is_empty()) {
            if let Some(organization) = fact.organization {
                by_organization
                    .entry((&fact.name, organization))
                    .or_default()
                    .push(fact.id);
                near_organization
                    .entry(organization)
                    .or_default()
                    .push((&fact.name, fact.id));
            }
            for domain in &fact.domains {
                by_domain
                    .entry((&fact.name, domain))
                    .or_default()
                    .push(fact.id);
            }
            if !fact.city.is_empty() {
                near_city
                    .entry(&fact.city)
                    .or_default()
                    .push((&fact.name, fact.id));
            }
        }
        for ((name, _), mut members) in by_organization {
            members.sort();
            let evidence = Evidence {
                reason: DuplicateReason::SameNameSameOrganization,
                detail: name.to_owned(),
            };
            self.block(&members, &evidence);
        }
        for ((name, domain), mut members) in by_domain {
            members.sort();
            let evidence = Evidence {
                reason: DuplicateReason::SameNameSameEmailDomain,
                detail: format!("{name} at {domain}"),
            };
            self.block(&members, &evidence);
        }
        for (_, members) in near_organization {
            self.neighbours(
                members,
                DuplicateReason::SimilarNameSameOrganization,
                |_| String::new(),
            );
        }
        for (city, members) in near_city {
            self.neighbours(members, DuplicateReason::SimilarNameSameCity, |_| {
                city.to_owned()
            });
        }
    }

    /// The sorted-neighbourhood method: names sorted as written and
    /// reversed, each compared with its next few neighbours, so a block of
    /// any size costs n log n.
    fn neighbours(
        &mut self,
        mut members: Vec<(&str, ContactId)>,
        reason: DuplicateReason,
        detail: impl Fn(&str) -> String,
    ) {
        if members.len() < 2 {
            return;
        }
        let check = |members: &[(&str, ContactId)], this: &mut Edges| {
            for (index, (name, id)) in members.iter().enumerate() {
                for (other, other_id) in members.iter().skip(index + 1).take(WINDOW) {
                    let alike = similar(name, other)
                        || (reason == DuplicateReason::SimilarNameSameCity && name == other);
                    if alike {
                        let shown = detail(name);
                        this.add(
                            *id,
                            *other_id,
                            Evidence {
                                reason,
                                detail: if shown.is_empty() {
                                    format!("{name} ~ {other}")
                                } else {
                                    format!("{name} ~ {other} in {shown}")
                                },
                            },
                        );
                    }
                }
            }
        };
        members.sort();
        check(&members, self);
        let mut reversed: Vec<(String, ContactId)> = members
            .iter()
            .map(|(name, id)| (name.chars().rev().collect(), *id))
            .collect();
        reversed.sort();
        let back: Vec<(String, ContactId)> = reversed
            .into_iter()
            .map(|(name, id)| (name.chars().rev().collect(), id))
            .collect();
        let back: Vec<(&str, ContactId)> =
            back.iter().map(|(name, id)| (name.as_str(), *id)).collect();
        check(&back, self);
    }

    /// Groups the edges into connected components, leaving out the pairs in
    /// `not_duplicates`; best score first, then by first contact id.
    pub fn groups(self, not_duplicates: &BTreeSet<(ContactId, ContactId)>) -> Vec<DuplicateGroup> {
        let edges: Vec<((ContactId, ContactId), BTreeSet<Evidence>)> = self
            .0
            .into_iter()
            .filter(|(pair, _)| !not_duplicates.contains(pair))
            .collect();
        let mut parent: HashMap<ContactId, ContactId> = HashMap::new();
        fn root(parent: &mut HashMap<ContactId, ContactId>, id: ContactId) -> ContactId {
            let mut current = id;
            while let Some(&next) = parent.get(&current) {
                if next == current {
                    break;
                }
                current = next;
            }
            parent.insert(id, current);
            current
        }
        for ((a, b), _) in &edges {
            parent.entry(*a).or_insert(*a);
            parent.entry(*b).or_insert(*b);
            let (ra, rb) = (root(&mut parent, *a), root(&mut parent, *b));
            if ra != rb {
                let (low, high) = if ra < rb { (ra, rb) } else { (rb, ra) };
                parent.insert(high, low);
            }
        }
        let mut components: BTreeMap<ContactId, (BTreeSet<ContactId>, BTreeSet<Evidence>)> =
            BTreeMap::new();
        for ((a, b), evidence) in edges {
            let top = root(&mut parent, a);
            let entry = components.entry(top).or_default();
            entry.0.insert(a);
            entry.0.insert(b);
            entry.1.extend(evidence);
        }
        let mut groups: Vec<DuplicateGroup> = components
            .into_values()
            .map(|(contacts, evidence)| {
                let reasons: BTreeSet<DuplicateReason> =
                    evidence.iter().map(|item| item.reason).collect();
                let unlikely: f64 = reasons.iter().map(|r| 1.0 - r.weight()).product();
                DuplicateGroup {
                    contacts: contacts.into_iter().collect(),
                    evidence: evidence.into_iter().collect(),
                    score: ((1.0 - unlikely) * 100.0).round() / 100.0,
                }
            })
            .collect();
        groups.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.contacts[0].cmp(&b.contacts[0]))
        });
        groups
    }
}

/// Every pair among `ids` (at most [`MAX_MARKED`]), smaller id first.
///
/// # Errors
/// `InvalidArgument` on `contact_ids` for more than [`MAX_MARKED`] ids,
/// before any pair is built.
pub fn pairs(ids: &[ContactId]) -> Result<Vec<(ContactId, ContactId)>, DomainError> {
    // The count first: 10,000 ids would make 50 million pairs.
    DomainError::check_count("contact_ids", ids.len(), MAX_MARKED, "contact ids")?;
    let mut sorted: Vec<ContactId> = ids.to_vec();
    sorted.sort();
    sorted.dedup();
    let mut pairs = Vec::new();
    for (index, a) in sorted.iter().enumerate() {
        for b in &sorted[index + 1..] {
            pairs.push((*a, *b));
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pairs_are_refused_past_the_limit_before_any_is_built() {
        let many: Vec<ContactId> = (0..10_000u128)
            .map(|n| ContactId::from_uuid(uuid::Uuid::from_u128(n)))
            .collect();
        let Err(DomainError::InvalidArgument(violations)) = pairs(&many) else {
            panic!("expected invalid argument");
        };
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "contact_ids");
        assert_eq!(pairs(&many[..MAX_MARKED]).unwrap().len(), 50 * 49 / 2);
    }
    use uuid::Uuid;

    fn id(n: u128) -> ContactId {
        ContactId::from_uuid(Uuid::from_u128(n))
    }

    fn facts(
        n: u128,
        name: &str,
        city: &str,
        organization: Option<u128>,
        domains: &[&str],
    ) -> Facts {
        Facts {
            id: id(n),
            name: name_key(name),
            city: name_key(city),
            organization: organization.map(|o| OrganizationId::from_uuid(Uuid::from_u128(o))),
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    #[test]
    fn names_ignore_case_accents_spacing_and_word_order() {
        assert_eq!(name_key("  José   da SILVA "), "da jose silva");
        assert_eq!(name_key("Silva, José da"), name_key("josé DA silva"));
        assert_eq!(name_key("Zoë O'Neil"), "neil o zoe");
        assert!(similar("ana souza", "ana sousa"));
        assert!(!similar("ana souza", "ana souza"));
        assert!(!similar("bo", "bi"));
        assert!(!similar("ana", "bob"));
        assert!(!similar("123 imported", "124 imported"), "digits differ");
        assert!(!similar("12 store", "123 store"));
        assert!(similar("2 ana souza", "2 ana sousa"));
    }

    #[test]
    fn evidence_links_contacts_into_scored_groups() {
        let all = [
            facts(1, "Ana Souza", "Lisbon", Some(9), &[]),
            facts(2, "souza ana", "", Some(9), &[]),
            facts(3, "Ana Sousa", "Lisbon", None, &[]),
            facts(4, "Bruno Lima", "", None, &["acme.com"]),
            facts(5, "Lima, Bruno", "", None, &["acme.com"]),
            facts(6, "Carla Dias", "Porto", None, &["other.com"]),
            facts(7, "Bruno Lima", "", None, &[]),
        ];
        let mut edges = Edges::default();
        edges.add_names(&all);
        let groups = edges.groups(&BTreeSet::new());
        let members: Vec<Vec<ContactId>> = groups.iter().map(|g| g.contacts.clone()).collect();
        assert_eq!(members, [vec![id(1), id(2), id(3)], vec![id(4), id(5)]]);
        assert_eq!(
            groups[0].score, 0.96,
            "same name + org, similar name + city"
        );
        assert_eq!(groups[1].score, 0.85);
        assert_eq!(groups[1].evidence[0].detail, "bruno lima at acme.com");

        let mut edges = Edges::default();
        edges.add_names(&all);
        let marked: BTreeSet<_> = pairs(&[id(4), id(5)]).unwrap().into_iter().collect();
        let groups = edges.groups(&marked);
        assert_eq!(
            groups.len(),
            1,
            "a group marked not duplicates stops appearing"
        );
    }
}
