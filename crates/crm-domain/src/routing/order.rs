//! Routing order, as a pure rule: where each subject of a routing request
//! goes in a queue, by its contact's tier rank.

use crate::kernel::ContactId;
use crate::tiers::TierBadge;

/// One subject of a routing request and what was found for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingEntry {
    /// Its position in the request.
    pub index: usize,
    /// The contact it is, if known.
    pub contact: Option<ContactId>,
    /// The contact's tier, if any.
    pub tier: Option<TierBadge>,
}

/// Orders routing entries for a queue: by tier rank (rank 1 first), then
/// contacts without a tier, then subjects that are no contact at all; ties
/// keep the order of the request.
pub fn routing_order(mut entries: Vec<RoutingEntry>) -> Vec<RoutingEntry> {
    entries.sort_by_key(|entry| {
        let class = match (&entry.contact, &entry.tier) {
            (Some(_), Some(tier)) => (0, tier.rank),
            (Some(_), None) => (1, 0),
            (None, _) => (2, 0),
        };
        (class, entry.index)
    });
    entries
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;
    use crate::kernel::TierId;
    use crate::tiers::SlaPolicy;

    fn badge(rank: u32) -> TierBadge {
        TierBadge {
            id: TierId::from_uuid(Uuid::now_v7()),
            name: format!("r{rank}"),
            color: "#000000".into(),
            rank,
            sla: SlaPolicy::default(),
        }
    }

    fn entry(index: usize, known: bool, rank: Option<u32>) -> RoutingEntry {
        RoutingEntry {
            index,
            contact: known.then(|| ContactId::from_uuid(Uuid::now_v7())),
            tier: rank.map(badge),
        }
    }

    #[test]
    fn routing_puts_higher_tiers_first_then_untiered_then_unknown() {
        let entries = vec![
            entry(0, false, None),
            entry(1, true, None),
            entry(2, true, Some(2)),
            entry(3, true, Some(1)),
            entry(4, true, Some(2)),
        ];
        let order: Vec<usize> = routing_order(entries).iter().map(|e| e.index).collect();
        assert_eq!(order, [3, 2, 4, 1, 0]);
    }

    proptest! {
        #[test]
        fn routing_is_a_permutation_sorted_by_rank(
            ranks in proptest::collection::vec(proptest::option::of(1u32..5), 0..30)
        ) {
            let entries: Vec<RoutingEntry> = ranks
                .iter()
                .enumerate()
                .map(|(index, rank)| entry(index, true, *rank))
                .collect();
            let ordered = routing_order(entries);
            prop_assert_eq!(ordered.len(), ranks.len());
            let keys: Vec<u32> = ordered
                .iter()
                .map(|e| e.tier.as_ref().map_or(u32::MAX, |t| t.rank))
                .collect();
            prop_assert!(keys.windows(2).all(|w| w[0] <= w[1]));
        }
    }
}
