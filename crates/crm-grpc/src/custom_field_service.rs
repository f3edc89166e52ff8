//! `crm.v1.CustomFieldService`: authenticates the caller, converts the
//! request, calls the custom-field use cases, converts the answer. No rules
//! live here.

use crm_domain::kernel;
use std::sync::Arc;

use crm_domain::fields::CustomFieldService;
use crm_domain::fields::layout::{Section, Tab};
use crm_domain::{DomainError, FieldId, FieldViolation, SectionId, TabId};
use crm_proto::v1 as pb;
use crm_proto::v1::custom_field_service_server::CustomFieldService as CustomFieldRpc;
use tonic::{Request, Response, Status};

use crate::auth::Authenticator;
use crate::convert::custom_field::{self as convert_field, record_type};
use crate::convert::{self, mask::Mask};
use crate::page_token;
use crate::status::to_status;

/// The gRPC face of the custom-field use cases.
#[derive(Debug, Clone)]
pub struct CustomFieldApi {
    fields: CustomFieldService,
    auth: Arc<Authenticator>,
}

impl CustomFieldApi {
    /// Serves `fields` to callers `auth` recognises.
    pub fn new(fields: CustomFieldService, auth: Arc<Authenticator>) -> Self {
        Self { fields, auth }
    }
}

fn id<T>(text: &str, field: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T, Status> {
    if text.is_empty() {
        return Err(to_status(DomainError::invalid(field, "is required")));
    }
    parse(text).ok_or_else(|| {
        to_status(DomainError::invalid(
            field,
            format!("is not a {what} id (a UUID)"),
        ))
    })
}

fn ids<T>(texts: &[String], field: &str, parse: fn(&str) -> Option<T>) -> Result<Vec<T>, Status> {
    let mut out = Vec::with_capacity(texts.len());
    let mut violations = Vec::new();
    for (index, text) in texts.iter().enumerate() {
        match parse(text) {
            Some(id) => out.push(id),
            None => violations.push(FieldViolation::new(
                format!("{field}[{index}]"),
                "is not an id (a UUID)",
            )),
        }
    }
    if violations.is_empty() {
        Ok(out)
    } else {
        Err(to_status(DomainError::InvalidArgument(violations)))
    }
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, Status> {
    value.ok_or_else(|| to_status(DomainError::invalid(field, "is required")))
}

/// The new name of a tab or section update: only `name` may be in the mask.
fn new_name(
    name: String,
    mask: Option<prost_types::FieldMask>,
    prefix: &str,
) -> Result<String, Status> {
    let mask = Mask::parse(mask, &["name"], vec!["name"]).map_err(to_status)?;
    if !mask.has("name") {
        return Err(to_status(DomainError::invalid(
            "update_mask",
            format!("only {prefix}.name can change"),
        )));
    }
    Ok(name)
}

fn tabs(tabs: &[Tab]) -> Vec<pb::Tab> {
    tabs.iter().map(convert_field::tab_to_proto).collect()
}

fn sections(sections: &[Section]) -> Vec<pb::Section> {
    sections
        .iter()
        .map(convert_field::section_to_proto)
        .collect()
}

#[tonic::async_trait]
impl CustomFieldRpc for CustomFieldApi {
    async fn create_custom_field(
        &self,
        request: Request<pb::CreateCustomFieldRequest>,
    ) -> Result<Response<pb::CustomField>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::CreateCustomFieldRequest { field } = request.into_inner();
        let draft = convert_field::draft(required(field, "field")?).map_err(to_status)?;
        let created = self
            .fields
            .create_field(&caller, draft)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert_field::to_proto(&created)))
    }

    async fn get_custom_field(
        &self,
        request: Request<pb::GetCustomFieldRequest>,
    ) -> Result<Response<pb::CustomField>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::GetCustomFieldRequest { id: text } = request.into_inner();
        let field_id = id(&text, "id", FieldId::parse, "custom field")?;
        let found = self
            .fields
            .get_field(&caller, field_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert_field::to_proto(&found)))
    }

    async fn list_custom_fields(
        &self,
        request: Request<pb::ListCustomFieldsRequest>,
    ) -> Result<Response<pb::ListCustomFieldsResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::ListCustomFieldsRequest {
            record_type: entity,
            page_size,
            page_token,
        } = request.into_inner();
        let entity = record_type(entity, "record_type").map_err(to_status)?;
        let size = kernel::page_size(page_size).map_err(to_status)?;
        let scope = format!("fields:{}", entity.as_str());
        let after = page_token::decode(&page_token, &scope)
            .map_err(to_status)?
            .map(FieldId::from_uuid);
        let page = self
            .fields
            .list_fields(&caller, entity, after, size)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListCustomFieldsResponse {
            fields: page.items.iter().map(convert_field::to_proto).collect(),
            next_page_token: page
                .next
                .map(|last| page_token::encode(last.as_uuid(), &scope))
                .unwrap_or_default(),
        }))
    }

    async fn update_custom_field(
        &self,
        request: Request<pb::UpdateCustomFieldRequest>,
    ) -> Result<Response<pb::CustomField>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::UpdateCustomFieldRequest {
            field,
            update_mask,
            etag,
        } = request.into_inner();
        let field = required(field, "field")?;
        let field_id = id(&field.id, "field.id", FieldId::parse, "custom field")?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        let patch = convert_field::patch(field, update_mask).map_err(to_status)?;
        let updated = self
            .fields
            .update_field(&caller, field_id, patch, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert_field::to_proto(&updated)))
    }

    async fn delete_custom_field(
        &self,
        request: Request<pb::DeleteCustomFieldRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::DeleteCustomFieldRequest { id: text, etag } = request.into_inner();
        let field_id = id(&text, "id", FieldId::parse, "custom field")?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        self.fields
            .delete_field(&caller, field_id, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(()))
    }

    async fn move_custom_field(
        &self,
        request: Request<pb::MoveCustomFieldRequest>,
    ) -> Result<Response<pb::CustomField>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::MoveCustomFieldRequest {
            id: text,
            section_id,
            position,
        } = request.into_inner();
        let field_id = id(&text, "id", FieldId::parse, "custom field")?;
        let section = if section_id.is_empty() {
            None
        } else {
            Some(id(&section_id, "section_id", SectionId::parse, "section")?)
        };
        let position = u32::try_from(position)
            .map_err(|_| to_status(DomainError::invalid("position", "must not be negative")))?;
        let moved = self
            .fields
            .move_field(&caller, field_id, section, position)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert_field::to_proto(&moved)))
    }

    async fn get_layout(
        &self,
        request: Request<pb::GetLayoutRequest>,
    ) -> Result<Response<pb::Layout>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::GetLayoutRequest {
            record_type: entity,
        } = request.into_inner();
        let entity = record_type(entity, "record_type").map_err(to_status)?;
        let layout = self
            .fields
            .layout(&caller, entity)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert_field::layout_to_proto(&layout)))
    }

    async fn create_tab(
        &self,
        request: Request<pb::CreateTabRequest>,
    ) -> Result<Response<pb::Tab>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::CreateTabRequest { tab } = request.into_inner();
        let tab = required(tab, "tab")?;
        let entity = record_type(tab.record_type, "tab.record_type").map_err(to_status)?;
        let created = self
            .fields
            .create_tab(&caller, entity, &tab.name)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert_field::tab_to_proto(&created)))
    }

    async fn update_tab(
        &self,
        request: Request<pb::UpdateTabRequest>,
    ) -> Result<Response<pb::Tab>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::UpdateTabRequest {
            tab,
            update_mask,
            etag,
        } = request.into_inner();
        let tab = required(tab, "tab")?;
        let tab_id = id(&tab.id, "tab.id", TabId::parse, "tab")?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        let name = new_name(tab.name, update_mask, "tab")?;
        let renamed = self
            .fields
            .rename_tab(&caller, tab_id, &name, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert_field::tab_to_proto(&renamed)))
    }

    async fn delete_tab(
        &self,
        request: Request<pb::DeleteTabRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::DeleteTabRequest { id: text } = request.into_inner();
        let tab_id = id(&text, "id", TabId::parse, "tab")?;
        self.fields
            .delete_tab(&caller, tab_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(()))
    }

    async fn reorder_tabs(
        &self,
        request: Request<pb::ReorderTabsRequest>,
    ) -> Result<Response<pb::ReorderTabsResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::ReorderTabsRequest {
            record_type: entity,
            tab_ids,
        } = request.into_inner();
        let entity = record_type(entity, "record_type").map_err(to_status)?;
        let order = ids(&tab_ids, "tab_ids", TabId::parse)?;
        let reordered = self
            .fields
            .reorder_tabs(&caller, entity, &order)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ReorderTabsResponse {
            tabs: tabs(&reordered),
        }))
    }

    async fn create_section(
        &self,
        request: Request<pb::CreateSectionRequest>,
    ) -> Result<Response<pb::Section>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::CreateSectionRequest { section } = request.into_inner();
        let section = required(section, "section")?;
        let tab_id = id(&section.tab_id, "section.tab_id", TabId::parse, "tab")?;
        let created = self
            .fields
            .create_section(&caller, tab_id, &section.name)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert_field::section_to_proto(&created)))
    }

    async fn update_section(
        &self,
        request: Request<pb::UpdateSectionRequest>,
    ) -> Result<Response<pb::Section>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::UpdateSectionRequest {
            section,
            update_mask,
            etag,
        } = request.into_inner();
        let section = required(section, "section")?;
        let section_id = id(&section.id, "section.id", SectionId::parse, "section")?;
        let expected = convert::etag(&etag, "etag").map_err(to_status)?;
        let name = new_name(section.name, update_mask, "section")?;
        let renamed = self
            .fields
            .rename_section(&caller, section_id, &name, expected)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert_field::section_to_proto(&renamed)))
    }

    async fn delete_section(
        &self,
        request: Request<pb::DeleteSectionRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::DeleteSectionRequest { id: text } = request.into_inner();
        let section_id = id(&text, "id", SectionId::parse, "section")?;
        self.fields
            .delete_section(&caller, section_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(()))
    }

    async fn reorder_sections(
        &self,
        request: Request<pb::ReorderSectionsRequest>,
    ) -> Result<Response<pb::ReorderSectionsResponse>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let pb::ReorderSectionsRequest {
            tab_id,
            section_ids,
        } = request.into_inner();
        let tab = id(&tab_id, "tab_id", TabId::parse, "tab")?;
        let order = ids(&section_ids, "section_ids", SectionId::parse)?;
        let reordered = self
            .fields
            .reorder_sections(&caller, tab, &order)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ReorderSectionsResponse {
            sections: sections(&reordered),
        }))
    }
}
