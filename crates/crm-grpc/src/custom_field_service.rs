//! `crm.v1.CustomFieldService`: authenticates the caller, converts the
//! request, calls the custom-field use cases, converts the answer. No rules
//! live here.

use crm_domain::kernel;
use crm_domain::tenancy::Caller;
use std::sync::Arc;

use crm_domain::fields::CustomFieldService;
use crm_domain::{DomainError, FieldId, SectionId, TabId};
use crm_proto::v1 as pb;
use crm_proto::v1::custom_field_service_server::CustomFieldService as CustomFieldRpc;

use crate::auth::Authenticator;
use crate::convert::custom_field::{self as convert_field, record_type};
use crate::convert::custom_field::{new_name, sections, tabs};
use crate::convert::{self};
use crate::token;

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

/// The bodies of the RPCs: each takes the authenticated caller and the
/// request message and returns a domain result; [`crate::serve!`] does the rest.
impl CustomFieldApi {
    async fn create_custom_field(
        &self,
        caller: Caller,
        request: pb::CreateCustomFieldRequest,
    ) -> Result<pb::CustomField, DomainError> {
        let pb::CreateCustomFieldRequest { field } = request;
        let draft = convert_field::draft(convert::required(field, "field")?)?;
        let created = self
            .fields
            .create_field(&caller, draft)
            .await
            .map_err(|error| error.scoped("field"))?;
        Ok(convert_field::to_proto(&created))
    }

    async fn get_custom_field(
        &self,
        caller: Caller,
        request: pb::GetCustomFieldRequest,
    ) -> Result<pb::CustomField, DomainError> {
        let pb::GetCustomFieldRequest { id: text } = request;
        let field_id = convert::id::<FieldId>(&text, "id")?;
        let found = self.fields.get_field(&caller, field_id).await?;
        Ok(convert_field::to_proto(&found))
    }

    async fn list_custom_fields(
        &self,
        caller: Caller,
        request: pb::ListCustomFieldsRequest,
    ) -> Result<pb::ListCustomFieldsResponse, DomainError> {
        let pb::ListCustomFieldsRequest {
            record_type: entity,
            page_size,
            page_token,
        } = request;
        let entity = record_type(entity, "record_type")?;
        let size = kernel::page_size(page_size)?;
        let scope = format!("fields:{}", entity.as_str());
        let after = token::page_after(&page_token, &scope)?.map(FieldId::from_uuid);
        let page = self
            .fields
            .list_fields(&caller, entity, after, size)
            .await?;
        Ok(pb::ListCustomFieldsResponse {
            fields: page.items.iter().map(convert_field::to_proto).collect(),
            next_page_token: page
                .next
                .map(|last| token::page(last.as_uuid(), &scope))
                .unwrap_or_default(),
        })
    }

    async fn update_custom_field(
        &self,
        caller: Caller,
        request: pb::UpdateCustomFieldRequest,
    ) -> Result<pb::CustomField, DomainError> {
        let pb::UpdateCustomFieldRequest {
            field,
            update_mask,
            etag,
        } = request;
        let field = convert::required(field, "field")?;
        let field_id = convert::id::<FieldId>(&field.id, "field.id")?;
        let expected = token::optional_version(&etag, "etag")?;
        let patch = convert_field::patch(field, update_mask)?;
        let updated = self
            .fields
            .update_field(&caller, field_id, patch, expected)
            .await
            .map_err(|error| error.scoped("field"))?;
        Ok(convert_field::to_proto(&updated))
    }

    async fn delete_custom_field(
        &self,
        caller: Caller,
        request: pb::DeleteCustomFieldRequest,
    ) -> Result<(), DomainError> {
        let pb::DeleteCustomFieldRequest { id: text, etag } = request;
        let field_id = convert::id::<FieldId>(&text, "id")?;
        let expected = token::optional_version(&etag, "etag")?;
        self.fields
            .delete_field(&caller, field_id, expected)
            .await?;
        Ok(())
    }

    async fn move_custom_field(
        &self,
        caller: Caller,
        request: pb::MoveCustomFieldRequest,
    ) -> Result<pb::CustomField, DomainError> {
        let pb::MoveCustomFieldRequest {
            id: text,
            section_id,
            position,
        } = request;
        let field_id = convert::id::<FieldId>(&text, "id")?;
        let section = if section_id.is_empty() {
            None
        } else {
            Some(convert::id::<SectionId>(&section_id, "section_id")?)
        };
        let position = u32::try_from(position)
            .map_err(|_| DomainError::invalid("position", "must not be negative"))?;
        let moved = self
            .fields
            .move_field(&caller, field_id, section, position)
            .await?;
        Ok(convert_field::to_proto(&moved))
    }

    async fn get_layout(
        &self,
        caller: Caller,
        request: pb::GetLayoutRequest,
    ) -> Result<pb::Layout, DomainError> {
        let pb::GetLayoutRequest {
            record_type: entity,
        } = request;
        let entity = record_type(entity, "record_type")?;
        let layout = self.fields.layout(&caller, entity).await?;
        Ok(convert_field::layout_to_proto(&layout))
    }

    async fn create_tab(
        &self,
        caller: Caller,
        request: pb::CreateTabRequest,
    ) -> Result<pb::Tab, DomainError> {
        let pb::CreateTabRequest { tab } = request;
        let tab = convert::required(tab, "tab")?;
        let entity = record_type(tab.record_type, "tab.record_type")?;
        let created = self
            .fields
            .create_tab(&caller, entity, &tab.name)
            .await
            .map_err(|error| error.scoped("tab"))?;
        Ok(convert_field::tab_to_proto(&created))
    }

    async fn update_tab(
        &self,
        caller: Caller,
        request: pb::UpdateTabRequest,
    ) -> Result<pb::Tab, DomainError> {
        let pb::UpdateTabRequest {
            tab,
            update_mask,
            etag,
        } = request;
        let tab = convert::required(tab, "tab")?;
        let tab_id = convert::id::<TabId>(&tab.id, "tab.id")?;
        let expected = token::optional_version(&etag, "etag")?;
        let name = new_name(tab.name, update_mask, "tab")?;
        let renamed = self
            .fields
            .rename_tab(&caller, tab_id, &name, expected)
            .await
            .map_err(|error| error.scoped("tab"))?;
        Ok(convert_field::tab_to_proto(&renamed))
    }

    async fn delete_tab(
        &self,
        caller: Caller,
        request: pb::DeleteTabRequest,
    ) -> Result<(), DomainError> {
        let pb::DeleteTabRequest { id: text } = request;
        let tab_id = convert::id::<TabId>(&text, "id")?;
        self.fields.delete_tab(&caller, tab_id).await?;
        Ok(())
    }

    async fn reorder_tabs(
        &self,
        caller: Caller,
        request: pb::ReorderTabsRequest,
    ) -> Result<pb::ReorderTabsResponse, DomainError> {
        let pb::ReorderTabsRequest {
            record_type: entity,
            tab_ids,
        } = request;
        let entity = record_type(entity, "record_type")?;
        let order =
            convert::ids::<TabId>(&tab_ids, "tab_ids", crm_domain::fields::layout::MAX_ITEMS)?;
        let reordered = self.fields.reorder_tabs(&caller, entity, &order).await?;
        Ok(pb::ReorderTabsResponse {
            tabs: tabs(&reordered),
        })
    }

    async fn create_section(
        &self,
        caller: Caller,
        request: pb::CreateSectionRequest,
    ) -> Result<pb::Section, DomainError> {
        let pb::CreateSectionRequest { section } = request;
        let section = convert::required(section, "section")?;
        let tab_id = convert::id::<TabId>(&section.tab_id, "section.tab_id")?;
        let created = self
            .fields
            .create_section(&caller, tab_id, &section.name)
            .await
            .map_err(|error| error.scoped("section"))?;
        Ok(convert_field::section_to_proto(&created))
    }

    async fn update_section(
        &self,
        caller: Caller,
        request: pb::UpdateSectionRequest,
    ) -> Result<pb::Section, DomainError> {
        let pb::UpdateSectionRequest {
            section,
            update_mask,
            etag,
        } = request;
        let section = convert::required(section, "section")?;
        let section_id = convert::id::<SectionId>(&section.id, "section.id")?;
        let expected = token::optional_version(&etag, "etag")?;
        let name = new_name(section.name, update_mask, "section")?;
        let renamed = self
            .fields
            .rename_section(&caller, section_id, &name, expected)
            .await
            .map_err(|error| error.scoped("section"))?;
        Ok(convert_field::section_to_proto(&renamed))
    }

    async fn delete_section(
        &self,
        caller: Caller,
        request: pb::DeleteSectionRequest,
    ) -> Result<(), DomainError> {
        let pb::DeleteSectionRequest { id: text } = request;
        let section_id = convert::id::<SectionId>(&text, "id")?;
        self.fields.delete_section(&caller, section_id).await?;
        Ok(())
    }

    async fn reorder_sections(
        &self,
        caller: Caller,
        request: pb::ReorderSectionsRequest,
    ) -> Result<pb::ReorderSectionsResponse, DomainError> {
        let pb::ReorderSectionsRequest {
            tab_id,
            section_ids,
        } = request;
        let tab = convert::id::<TabId>(&tab_id, "tab_id")?;
        let order = convert::ids::<SectionId>(
            &section_ids,
            "section_ids",
            crm_domain::fields::layout::MAX_ITEMS,
        )?;
        let reordered = self.fields.reorder_sections(&caller, tab, &order).await?;
        Ok(pb::ReorderSectionsResponse {
            sections: sections(&reordered),
        })
    }
}

crate::serve! {
    impl CustomFieldRpc for CustomFieldApi {
        create_custom_field(pb::CreateCustomFieldRequest) -> pb::CustomField;
        get_custom_field(pb::GetCustomFieldRequest) -> pb::CustomField;
        list_custom_fields(pb::ListCustomFieldsRequest) -> pb::ListCustomFieldsResponse;
        update_custom_field(pb::UpdateCustomFieldRequest) -> pb::CustomField;
        delete_custom_field(pb::DeleteCustomFieldRequest) -> ();
        move_custom_field(pb::MoveCustomFieldRequest) -> pb::CustomField;
        get_layout(pb::GetLayoutRequest) -> pb::Layout;
        create_tab(pb::CreateTabRequest) -> pb::Tab;
        update_tab(pb::UpdateTabRequest) -> pb::Tab;
        delete_tab(pb::DeleteTabRequest) -> ();
        reorder_tabs(pb::ReorderTabsRequest) -> pb::ReorderTabsResponse;
        create_section(pb::CreateSectionRequest) -> pb::Section;
        update_section(pb::UpdateSectionRequest) -> pb::Section;
        delete_section(pb::DeleteSectionRequest) -> ();
        reorder_sections(pb::ReorderSectionsRequest) -> pb::ReorderSectionsResponse;
    }
}
