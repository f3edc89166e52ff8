//! How a merge unites what the survivor and its duplicates hold: addresses
//! (every one kept, one primary per kind), custom-field values and
//! engagement figures. Planning (`planning.rs`) decides the other fields.

use std::collections::BTreeSet;

use crate::contacts::Contact;
use crate::fields::{CustomValues, FieldValue};
use crate::identity::ContactIdentity;
use crate::kernel::ContactId;
use crate::merge::planning::{FieldWinner, compete, is_empty_value, render};

/// The survivor's identities in its order, then each duplicate's that are
/// new, sorted by kind and value (so the order of the duplicates does not
/// matter). Each kind keeps one primary: for a kind the survivor holds, its
/// primary (its first of the kind when none is flagged), so the survivor
/// keeps its external id, email and phone; for a kind it lacks, the
/// duplicates' first primary in that sorted order.
pub(super) fn unite_identities(all: &[&Contact]) -> Vec<ContactIdentity> {
    let mut united: Vec<ContactIdentity> = Vec::new();
    let mut keys = BTreeSet::new();
    let (survivor, duplicates) = all
        .split_first()
        .map_or((&[][..], &[][..]), |(s, d)| (std::slice::from_ref(s), d));
    let mut incoming: Vec<&ContactIdentity> = duplicates
        .iter()
        .flat_map(|contact| contact.identities.iter())
        .collect();
    incoming.sort_by(|a, b| (a.kind, &a.value, !a.primary).cmp(&(b.kind, &b.value, !b.primary)));
    let survivors: Vec<&ContactIdentity> = survivor
        .iter()
        .flat_map(|contact| contact.identities.iter())
        .collect();
    // The survivor's primary of each kind it holds: the flagged one, else its first.
    let survivor_primary = |identity: &ContactIdentity| {
        let mut of_kind = survivors.iter().filter(|held| held.kind == identity.kind);
        let chosen = of_kind
            .clone()
            .find(|held| held.primary)
            .or_else(|| of_kind.next());
        chosen.is_some_and(|chosen| chosen.key() == identity.key())
    };
    for identity in survivors.iter().copied() {
        if keys.insert(identity.key()) {
            united.push(ContactIdentity {
                primary: survivor_primary(identity),
                ..identity.clone()
            });
        }
    }
    for identity in incoming {
        if !keys.insert(identity.key()) {
            continue;
        }
        let has_primary = united
            .iter()
            .any(|held| held.kind == identity.kind && held.primary);
        united.push(ContactIdentity {
            primary: identity.primary && !has_primary,
            ..identity.clone()
        });
    }
    united
}

pub(super) fn unite_custom_values(
    all: &[&Contact],
    winners: &mut Vec<FieldWinner>,
) -> CustomValues {
    let keys: BTreeSet<&String> = all
        .iter()
        .flat_map(|contact| contact.custom_fields.keys())
        .collect();
    let mut united = CustomValues::new();
    for key in keys {
        let present: Vec<(ContactId, &FieldValue)> = all
            .iter()
            .filter_map(|contact| {
                contact
                    .custom_fields
                    .get(key)
                    .filter(|value| !is_empty_value(value))
                    .map(|value| (contact.id, value))
            })
            .collect();
        let Some((source, first)) = present.first() else {
            continue;
        };
        let value = match first {
            FieldValue::MultiSelect(_) => {
                let mut options: Vec<String> = Vec::new();
                for (_, value) in &present {
                    if let FieldValue::MultiSelect(keys) = value {
                        for option in keys {
                            if !options.contains(option) {
                                options.push(option.clone());
                            }
                        }
                    }
                }
                FieldValue::MultiSelect(options)
            }
            other => {
                let texts: Vec<(ContactId, String)> = present
                    .iter()
                    .map(|(holder, value)| (*holder, render(value)))
                    .collect();
                compete(
                    winners,
                    &format!("custom_fields.{key}"),
                    &texts,
                    *source,
                    render(other),
                );
                (*other).clone()
            }
        };
        united.insert(key.clone(), value);
    }
    united
}

pub(super) fn unite_engagement(all: &[&Contact]) -> crate::contacts::Engagement {
    let mut united = crate::contacts::Engagement::default();
    let mut channels = Vec::new();
    for contact in all {
        let figures = &contact.engagement;
        united.conversation_count += figures.conversation_count;
        united.message_count += figures.message_count;
        united.csat_sum += figures.csat_sum;
        united.csat_count += figures.csat_count;
        united.first_contact = match (united.first_contact, figures.first_contact) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        united.last_contact = match (united.last_contact, figures.last_contact) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        channels.extend(figures.channels.iter().copied());
    }
    channels.sort_by_key(|channel| channel.as_str());
    channels.dedup();
    united.channels = channels;
    united
}
