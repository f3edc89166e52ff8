//! Contact filters (`contacts::Filter`, parsed from AIP-160 by the domain)
//! compiled to SQL over the contact row: each restriction a comparison on a
//! column of `contacts` (or an `EXISTS` on its tags), every value bound as a
//! parameter. The same text serves both databases.

use crm_domain::contacts::{Comparator, CountField, Filter, Restriction, TextField, TimeField};

use crate::sql::Sql;

fn comparator(op: Comparator) -> &'static str {
    match op {
        Comparator::Eq => " = ",
        Comparator::Ne => " <> ",
        Comparator::Lt => " < ",
        Comparator::Le => " <= ",
        Comparator::Gt => " > ",
        Comparator::Ge => " >= ",
    }
}

/// Appends `filter` as a condition on the contact row aliased `alias`.
pub(crate) fn push_filter(sql: &mut Sql, filter: &Filter, alias: &str) {
    let column = |name: &str| format!("{alias}.{name}");
    match filter {
        Filter::And(parts) | Filter::Or(parts) => {
            let joint = if matches!(filter, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            sql.push("(");
            for (index, part) in parts.iter().enumerate() {
                if index > 0 {
                    sql.push(joint);
                }
                push_filter(sql, part, alias);
            }
            sql.push(")");
        }
        Filter::Not(part) => {
            // A comparison with NULL is unknown, and NOT unknown is unknown:
            // COALESCE makes "not (last contact after X)" hold for a contact
            // never contacted, as a reader expects.
            sql.push("NOT COALESCE((");
            push_filter(sql, part, alias);
            sql.push("), false)");
        }
        Filter::Is(restriction) => match restriction {
            Restriction::Text(field, op, value) => {
                let name = match field {
                    TextField::DisplayName => "display_name",
                    TextField::City => "city",
                    TextField::Country => "country",
                    TextField::Language => "language",
                };
                sql.push(&column(name))
                    .push(comparator(*op))
                    .bind(value.clone());
            }
            Restriction::Stage(op, stage) => {
                sql.push(&column("lifecycle_stage"))
                    .push(comparator(*op))
                    .bind(stage.as_str());
            }
            Restriction::Tier(op, tier) => {
                push_optional_id(sql, &column("tier_id"), *op, tier.map(|id| id.as_uuid()));
            }
            Restriction::Organization(op, organization) => push_optional_id(
                sql,
                &column("organization_id"),
                *op,
                organization.map(|id| id.as_uuid()),
            ),
            Restriction::Blocked(flag) => {
                sql.push(&column("blocked")).push(" = ").bind(*flag);
            }
            Restriction::Tag(tag) => {
                sql.push("EXISTS (SELECT 1 FROM contact_tags g WHERE g.tenant_id = ")
                    .push(&column("tenant_id"))
                    .push(" AND g.contact_id = ")
                    .push(&column("id"))
                    .push(" AND g.tag = ")
                    .bind(tag.clone())
                    .push(")");
            }
            Restriction::Channel(channel) => {
                // `channels_used` is a JSON array of channel names; a
                // quoted name cannot match inside another.
                sql.push(&column("channels_used"))
                    .push(" LIKE ")
                    .bind(format!("%\"{}\"%", channel.as_str()));
            }
            Restriction::Count(field, op, number) => {
                let name = match field {
                    CountField::Conversations => "conversation_count",
                    CountField::Messages => "message_count",
                };
                sql.push(&column(name)).push(comparator(*op)).bind(*number);
            }
            Restriction::Time(field, op, at) => {
                let name = match field {
                    TimeField::Created => "create_time",
                    TimeField::Updated => "update_time",
                    TimeField::FirstContact => "first_contact_time",
                    TimeField::LastContact => "last_contact_time",
                };
                sql.push(&column(name)).push(comparator(*op)).bind(*at);
            }
            Restriction::CsatAverage(op, hundredths) => {
                // Exact: sum / count <op> h / 100, as sum * 100 <op> h * count.
                sql.push("(")
                    .push(&column("csat_count"))
                    .push(" > 0 AND ")
                    .push(&column("csat_sum"))
                    .push(" * 100")
                    .push(comparator(*op))
                    .bind(*hundredths)
                    .push(" * ")
                    .push(&column("csat_count"))
                    .push(")");
            }
        },
    }
}

fn push_optional_id(sql: &mut Sql, column: &str, op: Comparator, id: Option<uuid::Uuid>) {
    match (op, id) {
        (Comparator::Ne, Some(id)) => {
            sql.push("(")
                .push(column)
                .push(" IS NULL OR ")
                .push(column)
                .push(" <> ")
                .bind(id)
                .push(")");
        }
        (_, Some(id)) => {
            sql.push(column).push(" = ").bind(id);
        }
        (Comparator::Ne, None) => {
            sql.push(column).push(" IS NOT NULL");
        }
        (_, None) => {
            sql.push(column).push(" IS NULL");
        }
    }
}
