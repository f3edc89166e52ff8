//! `crm.v1.ContactService`: authenticates the caller, converts the request,
//! calls the contact use case, converts the answer. No rules live here.

use crm_domain::contacts;
use crm_domain::kernel;
use crm_domain::tenancy::Caller;
use std::sync::Arc;

use crm_domain::contacts::ContactFilter;
use crm_domain::contacts::{ContactService, MAX_SENDERS_PER_BATCH, Resolution};
use crm_domain::kernel::RequestId;
use crm_domain::merge::MergeService;
use crm_domain::search::{MatchKind, MatchedField, SearchService};
use crm_domain::{ContactId, DomainError};
use crm_proto::v1 as pb;
use crm_proto::v1::contact_service_server::ContactService as ContactRpc;
use tonic::codegen::BoxStream;

use crate::auth::Authenticator;
use crate::convert::contact::identity_input;
use crate::convert::{self, contact};
use crate::token;

/// The gRPC face of the contact use cases.
#[derive(Debug, Clone)]
pub struct ContactApi {
    contacts: ContactService,
    merges: MergeService,
    search: SearchService,
    auth: Arc<Authenticator>,
}

impl ContactApi {
    /// Serves `contacts` to callers `auth` recognises; reads follow merges
    /// through `merges`; searches go to `search`.
    pub fn new(
        contacts: ContactService,
        merges: MergeService,
        search: SearchService,
        auth: Arc<Authenticator>,
    ) -> Self {
        Self {
            contacts,
            merges,
            search,
            auth,
        }
    }
}

/// The bodies of the RPCs: each takes the authenticated caller and the
/// request message and returns a domain result; [`crate::serve!`] does the rest.
impl ContactApi {
    async fn create_contact(
        &self,
        caller: Caller,
        request: pb::CreateContactRequest,
    ) -> Result<pb::Contact, DomainError> {
        let pb::CreateContactRequest {
            contact,
            request_id,
        } = request;
        let contact = convert::required(contact, "contact")?;
        let request_id = RequestId::parse(request_id)
            .map_err(|problem| DomainError::invalid("request_id", problem))?;
        let (draft, mut violations) = contact::draft(contact);
        let in_contact = |error: DomainError| error.scoped("contact");
        if !violations.is_empty() {
            violations.extend(contacts::draft_violations(
                &draft,
                caller.tenant().default_region,
            ));
            return Err(in_contact(DomainError::InvalidArgument(violations)));
        }
        let created = self
            .contacts
            .create(&caller, draft, request_id)
            .await
            .map_err(in_contact)?;
        Ok(contact::to_proto(&created))
    }

    async fn get_contact(
        &self,
        caller: Caller,
        request: pb::GetContactRequest,
    ) -> Result<pb::Contact, DomainError> {
        let pb::GetContactRequest { id } = request;
        let id = convert::id::<ContactId>(&id, "id")?;
        let found = self.merges.get_contact(&caller, id).await?;
        let mut reply = contact::to_proto(&found.contact);
        reply.redirected_from = found
            .redirected_from
            .map(|id| id.to_string())
            .unwrap_or_default();
        Ok(reply)
    }

    async fn list_contacts(
        &self,
        caller: Caller,
        request: pb::ListContactsRequest,
    ) -> Result<pb::ListContactsResponse, DomainError> {
        let pb::ListContactsRequest {
            page_size,
            page_token,
            tag,
            filter,
            order_by,
        } = request;
        let size = kernel::page_size(page_size)?;
        let (mut filter, mut scope) = contact_filter(&tag, &filter)?;
        filter.order = contacts::ContactOrder::parse(&order_by)?;
        if !filter.order.is_default() {
            scope.push_str(&format!("|order:{order_by}"));
        }
        let after = token::contact_page_after(&page_token, &scope)?;
        let page = self.contacts.list(&caller, &filter, after, size).await?;
        Ok(pb::ListContactsResponse {
            contacts: page.items.iter().map(contact::to_proto).collect(),
            next_page_token: page
                .next
                .map(|last| token::contact_page(&last, &scope))
                .unwrap_or_default(),
        })
    }

    async fn count_contacts(
        &self,
        caller: Caller,
        request: pb::CountContactsRequest,
    ) -> Result<pb::CountContactsResponse, DomainError> {
        let pb::CountContactsRequest { tag, filter } = request;
        let (filter, _) = contact_filter(&tag, &filter)?;
        let (count, capped) = self.contacts.count(&caller, &filter).await?;
        Ok(pb::CountContactsResponse {
            count: i64::try_from(count).unwrap_or(i64::MAX),
            count_is_lower_bound: capped,
        })
    }

    async fn search_contacts(
        &self,
        caller: Caller,
        request: pb::SearchContactsRequest,
    ) -> Result<pb::SearchContactsResponse, DomainError> {
        let pb::SearchContactsRequest {
            query,
            page_size,
            page_token,
        } = request;
        let size = kernel::page_size(page_size)?;
        // The query's length first: the token is bound to the query as
        // given, and checking it reads the whole query.
        crm_domain::search::check_length(&query)?;
        let offset = token::search_offset(&page_token, &query)?;
        let page = self
            .search
            .search_contacts(&caller, &query, size, offset)
            .await?;
        Ok(pb::SearchContactsResponse {
            results: page
                .hits
                .iter()
                .map(|hit| pb::SearchResult {
                    contact: Some(contact::to_proto(&hit.contact)),
                    matches: hit
                        .matches
                        .iter()
                        .map(|found| pb::SearchMatch {
                            field: search_field(found.field) as i32,
                            r#type: search_match_type(found.kind) as i32,
                        })
                        .collect(),
                })
                .collect(),
            next_page_token: page
                .next_offset
                .map(|next| token::search_page(next, &query))
                .unwrap_or_default(),
            total_size: i32::try_from(page.total).unwrap_or(i32::MAX),
            total_size_is_lower_bound: page.capped,
        })
    }

    async fn update_contact(
        &self,
        caller: Caller,
        request: pb::UpdateContactRequest,
    ) -> Result<pb::Contact, DomainError> {
        let pb::UpdateContactRequest {
            contact: changes,
            update_mask,
            etag,
        } = request;
        let changes = convert::required(changes, "contact")?;
        let id = convert::id::<ContactId>(&changes.id, "contact.id")?;
        let expected = token::optional_version(&etag, "etag")?;
        let (patch, mut violations) = contact::patch(changes, update_mask)?;
        let in_contact = |error: DomainError| error.scoped("contact");
        if !violations.is_empty() {
            violations.extend(contacts::patch_violations(
                &patch,
                caller.tenant().default_region,
            ));
            return Err(in_contact(DomainError::InvalidArgument(violations)));
        }
        let updated = self
            .contacts
            .update(&caller, id, patch, expected)
            .await
            .map_err(in_contact)?;
        Ok(contact::to_proto(&updated))
    }

    async fn delete_contact(
        &self,
        caller: Caller,
        request: pb::DeleteContactRequest,
    ) -> Result<(), DomainError> {
        let pb::DeleteContactRequest { id, etag } = request;
        let id = convert::id::<ContactId>(&id, "id")?;
        let expected = token::optional_version(&etag, "etag")?;
        self.contacts.delete(&caller, id, expected).await?;
        Ok(())
    }

    async fn resolve_sender(
        &self,
        caller: Caller,
        request: pb::ResolveSenderRequest,
    ) -> Result<pb::ResolveSenderResponse, DomainError> {
        let input = contact::sender(request)?;
        let resolution = self.contacts.resolve_sender(&caller, input).await?;
        Ok(resolved(&resolution))
    }

    async fn resolve_senders(
        &self,
        caller: Caller,
        request: pb::ResolveSendersRequest,
    ) -> Result<pb::ResolveSendersResponse, DomainError> {
        let pb::ResolveSendersRequest { senders } = request;
        DomainError::check_count("senders", senders.len(), MAX_SENDERS_PER_BATCH, "senders")?;
        let mut inputs = Vec::with_capacity(senders.len());
        let mut violations = Vec::new();
        for (index, sender) in senders.into_iter().enumerate() {
            match contact::sender(sender) {
                Ok(input) => inputs.push((index, input)),
                Err(error) => match error.scoped(&format!("senders[{index}]")) {
                    DomainError::InvalidArgument(found) => violations.extend(found),
                    other => return Err(other),
                },
            }
        }
        if !violations.is_empty() {
            // Name the domain's findings on the other senders too, so one
            // reply lists every bad field.
            let region = caller.tenant().default_region;
            for (index, input) in &inputs {
                violations.extend(
                    contacts::sender_violations(input, region)
                        .into_iter()
                        .map(|violation| violation.scoped(&format!("senders[{index}]"))),
                );
            }
            return Err(DomainError::InvalidArgument(violations));
        }
        let inputs = inputs.into_iter().map(|(_, input)| input).collect();
        let resolutions = self.contacts.resolve_senders(&caller, inputs).await?;
        Ok(pb::ResolveSendersResponse {
            results: resolutions.iter().map(resolved).collect(),
        })
    }

    async fn add_identity(
        &self,
        caller: Caller,
        request: pb::AddIdentityRequest,
    ) -> Result<pb::Contact, DomainError> {
        let pb::AddIdentityRequest {
            contact_id,
            identity,
            primary,
            etag,
        } = request;
        let id = convert::id::<ContactId>(&contact_id, "contact_id")?;
        let expected = token::optional_version(&etag, "etag")?;
        let input = identity_input(identity, primary)?;
        let updated = self
            .contacts
            .add_identity(&caller, id, input, expected)
            .await
            .map_err(|error| error.scoped("identity"))?;
        Ok(contact::to_proto(&updated))
    }

    async fn remove_identity(
        &self,
        caller: Caller,
        request: pb::RemoveIdentityRequest,
    ) -> Result<pb::Contact, DomainError> {
        let pb::RemoveIdentityRequest {
            contact_id,
            identity,
            etag,
        } = request;
        let id = convert::id::<ContactId>(&contact_id, "contact_id")?;
        let expected = token::optional_version(&etag, "etag")?;
        let input = identity_input(identity, false)?;
        let updated = self
            .contacts
            .remove_identity(&caller, id, input, expected)
            .await
            .map_err(|error| error.scoped("identity"))?;
        Ok(contact::to_proto(&updated))
    }

    async fn add_contact_tags(
        &self,
        caller: Caller,
        request: pb::AddContactTagsRequest,
    ) -> Result<pb::Contact, DomainError> {
        let pb::AddContactTagsRequest {
            contact_id,
            tags,
            etag,
        } = request;
        let id = convert::id::<ContactId>(&contact_id, "contact_id")?;
        let expected = token::optional_version(&etag, "etag")?;
        if tags.is_empty() {
            return Err(DomainError::invalid("tags", "is required"));
        }
        let updated = self.contacts.add_tags(&caller, id, &tags, expected).await?;
        Ok(contact::to_proto(&updated))
    }

    async fn remove_contact_tags(
        &self,
        caller: Caller,
        request: pb::RemoveContactTagsRequest,
    ) -> Result<pb::Contact, DomainError> {
        let pb::RemoveContactTagsRequest {
            contact_id,
            tags,
            etag,
        } = request;
        let id = convert::id::<ContactId>(&contact_id, "contact_id")?;
        let expected = token::optional_version(&etag, "etag")?;
        if tags.is_empty() {
            return Err(DomainError::invalid("tags", "is required"));
        }
        let updated = self
            .contacts
            .remove_tags(&caller, id, &tags, expected)
            .await?;
        Ok(contact::to_proto(&updated))
    }
}

crate::serve! {
    impl ContactRpc for ContactApi {
        create_contact(pb::CreateContactRequest) -> pb::Contact;
        get_contact(pb::GetContactRequest) -> pb::Contact;
        list_contacts(pb::ListContactsRequest) -> pb::ListContactsResponse;
        count_contacts(pb::CountContactsRequest) -> pb::CountContactsResponse;
        search_contacts(pb::SearchContactsRequest) -> pb::SearchContactsResponse;
        update_contact(pb::UpdateContactRequest) -> pb::Contact;
        delete_contact(pb::DeleteContactRequest) -> ();
        resolve_sender(pb::ResolveSenderRequest) -> pb::ResolveSenderResponse;
        resolve_senders(pb::ResolveSendersRequest) -> pb::ResolveSendersResponse;
        add_identity(pb::AddIdentityRequest) -> pb::Contact;
        remove_identity(pb::RemoveIdentityRequest) -> pb::Contact;
        add_contact_tags(pb::AddContactTagsRequest) -> pb::Contact;
        remove_contact_tags(pb::RemoveContactTagsRequest) -> pb::Contact;
    }
    type StreamResolveSendersStream = BoxStream<pb::StreamResolveSendersResponse>;

    async fn stream_resolve_senders(
        &self,
        request: tonic::Request<tonic::Streaming<pb::StreamResolveSendersRequest>>,
    ) -> Result<tonic::Response<Self::StreamResolveSendersStream>, tonic::Status> {
        crate::sender_stream::serve(self.contacts.clone(), self.auth.clone(), request)
            .await
            .map(tonic::Response::new)
    }
}

/// The filter a list or count request names, and the scope its page
/// tokens are bound to (empty when unfiltered).
fn contact_filter(tag: &str, filter: &str) -> Result<(ContactFilter, String), DomainError> {
    let tag = if tag.is_empty() {
        None
    } else {
        Some(
            crm_domain::kernel::tag::normalize_tag(tag)
                .map_err(|problem| DomainError::invalid("tag", problem))?,
        )
    };
    let expression = contacts::Filter::parse(filter)?;
    let mut scope = tag
        .as_ref()
        .map(|tag| format!("tag:{tag}"))
        .unwrap_or_default();
    if expression.is_some() {
        scope.push_str(&format!("|filter:{filter}"));
    }
    Ok((
        ContactFilter {
            organization: None,
            tag,
            expression,
            order: contacts::ContactOrder::default(),
        },
        scope,
    ))
}

fn search_field(field: MatchedField) -> pb::SearchField {
    match field {
        MatchedField::Name => pb::SearchField::Name,
        MatchedField::Email => pb::SearchField::Email,
        MatchedField::Phone => pb::SearchField::Phone,
        MatchedField::ExternalId => pb::SearchField::ExternalId,
        MatchedField::OtherAddress => pb::SearchField::OtherAddress,
        MatchedField::Organization => pb::SearchField::Organization,
    }
}

fn search_match_type(kind: MatchKind) -> pb::SearchMatchType {
    match kind {
        MatchKind::Exact => pb::SearchMatchType::Exact,
        MatchKind::Prefix => pb::SearchMatchType::Prefix,
        MatchKind::Infix => pb::SearchMatchType::Infix,
    }
}

/// A resolution as the API answers it.
pub(crate) fn resolved(resolution: &Resolution) -> pb::ResolveSenderResponse {
    pb::ResolveSenderResponse {
        contact: Some(contact::to_proto(&resolution.contact)),
        created: resolution.created,
        matched_by: contact::matched_by(resolution.matched_by) as i32,
    }
}
