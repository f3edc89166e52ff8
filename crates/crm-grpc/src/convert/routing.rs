//! Routing between protobuf and the domain: the subjects of a priority
//! query and the entries of its answer.

use crm_domain::identity::SenderInput;
use crm_domain::routing::{RoutingEntry, RoutingSubject};
use crm_domain::{ContactId, DomainError, FieldViolation};
use crm_proto::v1 as pb;

/// The subjects of a routing-priority query, every bad one named.
///
/// # Errors
/// `InvalidArgument` with one violation per bad subject.
pub(crate) fn subjects(
    subjects: Vec<pb::RoutingSubject>,
) -> Result<Vec<RoutingSubject>, DomainError> {
    // The count first: nothing in a list over the limit is read.
    DomainError::check_count(
        "subjects",
        subjects.len(),
        crm_domain::routing::MAX_ROUTING_SUBJECTS,
        "subjects",
    )?;
    let mut parsed = Vec::with_capacity(subjects.len());
    let mut violations = Vec::new();
    for (index, item) in subjects.into_iter().enumerate() {
        match subject(index, item) {
            Ok(item) => parsed.push(item),
            Err(violation) => violations.push(violation),
        }
    }
    if violations.is_empty() {
        Ok(parsed)
    } else {
        Err(DomainError::InvalidArgument(violations))
    }
}

fn subject(index: usize, subject: pb::RoutingSubject) -> Result<RoutingSubject, FieldViolation> {
    match subject.subject {
        Some(pb::routing_subject::Subject::ContactId(id)) => {
            let field = format!("subjects[{index}].contact_id");
            super::id::<ContactId>(&id, &field)
                .map(RoutingSubject::Contact)
                .map_err(|_| FieldViolation::new(field, "is not a contact id (a UUID)"))
        }
        Some(pb::routing_subject::Subject::Sender(pb::RoutingSender { channel, address })) => {
            let request = pb::ResolveSenderRequest {
                channel,
                address,
                ..pb::ResolveSenderRequest::default()
            };
            super::contact::sender(request)
                .map(|input| {
                    RoutingSubject::Sender(SenderInput {
                        display_name: String::new(),
                        ..input
                    })
                })
                .map_err(|error| match error {
                    DomainError::InvalidArgument(found) => FieldViolation::new(
                        format!(
                            "subjects[{index}].sender.{}",
                            found.first().map_or("channel", |v| v.field.as_str())
                        ),
                        found
                            .first()
                            .map_or_else(String::new, |v| v.description.clone()),
                    ),
                    other => FieldViolation::new(format!("subjects[{index}]"), other.to_string()),
                })
        }
        None => Err(FieldViolation::new(
            format!("subjects[{index}]"),
            "set contact_id or sender",
        )),
    }
}

/// One entry of the answer.
pub(crate) fn entry_to_proto(entry: &RoutingEntry) -> pb::RoutingEntry {
    pb::RoutingEntry {
        subject_index: i32::try_from(entry.index).unwrap_or(i32::MAX),
        contact_id: entry.contact.map(|id| id.to_string()).unwrap_or_default(),
        tier: entry.tier.as_ref().map(super::tier::summary),
    }
}
