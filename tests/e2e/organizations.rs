//! OrganizationService end to end: organizations and their domains,
//! auto-linking by email domain (never for free mail, never over a manual
//! choice), membership by hand, member lists, custom fields on
//! organizations, and the tenant's own free-mail list.

use crm_proto::v1 as pb;

use crate::fixtures::{
    assert_code, assert_invalid, contact_with_email, create_org, mask, org, sender,
};
use crate::harness::{TestServer, on_both, with_key};

async fn get_org(server: &TestServer, id: &str) -> pb::Organization {
    server
        .organizations()
        .await
        .get_organization(server.req(pb::GetOrganizationRequest { id: id.into() }))
        .await
        .unwrap()
        .into_inner()
}

const AUTO: i32 = pb::OrganizationLink::Auto as i32;
const MANUAL: i32 = pb::OrganizationLink::Manual as i32;
const DETACHED: i32 = pb::OrganizationLink::Detached as i32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_auto_link_by_email_domain_but_never_by_free_mail() {
    on_both(|server| async move {
        let acme = create_org(&server, org("Acme", &["Acme.com", "www.acme.io"])).await;
        assert_eq!(acme.domains, ["acme.com", "acme.io"]);

        // A new sender at the domain is linked as it is created.
        let resolved = server
            .resolve(sender(pb::Channel::Email, "ana@acme.com"))
            .await;
        let ana = resolved.contact.unwrap();
        assert_eq!(
            (ana.organization_id.as_str(), ana.organization_link),
            (acme.id.as_str(), AUTO)
        );
        // So is a contact created with an email there, and one that gains one.
        let bo = contact_with_email(&server, "bo@ACME.io").await;
        assert_eq!(bo.organization_id, acme.id);
        let cy = contact_with_email(&server, "cy@gmail.com").await;
        assert_eq!(
            (cy.organization_id.as_str(), cy.organization_link),
            ("", 0),
            "free mail never links"
        );
        let cy = server
            .contacts()
            .await
            .add_identity(server.req(pb::AddIdentityRequest {
                contact_id: cy.id.clone(),
                identity: Some(pb::Identity {
                    kind: pb::IdentityKind::Email as i32,
                    value: "cy@acme.com".into(),
                    normalized_value: String::new(),
                }),
                primary: false,
                etag: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (cy.organization_id.as_str(), cy.organization_link),
            (acme.id.as_str(), AUTO)
        );
        for free in [
            "dee@hotmail.co.uk",
            "eve@yahoo.com.br",
            "fay@outlook.com",
            "gus@mail.proton.me",
        ] {
            let created = server
                .resolve(sender(pb::Channel::Email, free))
                .await
                .contact
                .unwrap();
            assert_eq!(created.organization_id, "", "{free}");
        }
        assert_eq!(get_org(&server, &acme.id).await.member_count, 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_mail_domains_and_their_subdomains_are_refused_and_brand_names_are_not() {
    on_both(|server| async move {
        let mut client = server.organizations().await;
        let refused = client
            .create_organization(server.req(pb::CreateOrganizationRequest {
                organization: Some(org(
                    "Kenji's",
                    &["kenji.example", "Mail.Yahoo.co.jp", "hotmail.co.uk"],
                )),
            }))
            .await
            .unwrap_err();
        assert_invalid(
            &refused,
            &["organization.domains[1]", "organization.domains[2]"],
        );
        // A company whose domain starts with a provider's name is a company.
        let events = create_org(&server, org("Acme Events", &["live.acme-events.com"])).await;
        let ana = server
            .resolve(sender(pb::Channel::Email, "ana@live.acme-events.com"))
            .await
            .contact
            .unwrap();
        assert_eq!(
            (ana.organization_id.as_str(), ana.organization_link),
            (events.id.as_str(), AUTO)
        );
        // A sender at a subdomain of free mail is never linked.
        let kenji = server
            .resolve(sender(pb::Channel::Email, "kenji@mail.yahoo.co.jp"))
            .await
            .contact
            .unwrap();
        assert_eq!(kenji.organization_id, "");
        // An update adding free mail is refused too, at its place in the request.
        let mut update = events.clone();
        update.domains = vec!["live.acme-events.com".into(), "gmail.com".into()];
        let refused = client
            .update_organization(server.req(pb::UpdateOrganizationRequest {
                organization: Some(update),
                update_mask: mask(&["domains"]),
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&refused, &["organization.domains[1]"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_domain_picks_up_unaffiliated_contacts_and_manual_links_win() {
    on_both(|server| async move {
        let mut client = server.organizations().await;
        let mut contacts = server.contacts().await;
        let ana = contact_with_email(&server, "ana@globex.com").await;
        let bo = contact_with_email(&server, "bo@globex.com").await;
        let initech = create_org(&server, org("Initech", &[])).await;
        // Bo is put in Initech by hand; Ana is taken out of it by hand.
        let bo = client
            .add_organization_member(server.req(pb::AddOrganizationMemberRequest {
                organization_id: initech.id.clone(),
                contact_id: bo.id.clone(),
                etag: bo.etag.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (bo.organization_id.as_str(), bo.organization_link),
            (initech.id.as_str(), MANUAL)
        );
        client
            .add_organization_member(server.req(pb::AddOrganizationMemberRequest {
                organization_id: initech.id.clone(),
                contact_id: ana.id.clone(),
                etag: String::new(),
            }))
            .await
            .unwrap();
        let ana = client
            .remove_organization_member(server.req(pb::RemoveOrganizationMemberRequest {
                organization_id: initech.id.clone(),
                contact_id: ana.id.clone(),
                etag: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (ana.organization_id.as_str(), ana.organization_link),
            ("", DETACHED)
        );
        let not_member = client
            .remove_organization_member(server.req(pb::RemoveOrganizationMemberRequest {
                organization_id: initech.id.clone(),
                contact_id: ana.id.clone(),
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_code(&not_member, tonic::Code::FailedPrecondition);

        let cy = contact_with_email(&server, "cy@globex.com").await;
        assert_eq!(cy.organization_id, "");
        let globex = create_org(&server, org("Globex", &["globex.com"])).await;
        // Only Cy had no affiliation at all.
        assert_eq!(globex.member_count, 1);
        assert_eq!(server.get(&cy.id).await.organization_id, globex.id);
        assert_eq!(server.get(&bo.id).await.organization_id, initech.id);
        assert_eq!(server.get(&ana.id).await.organization_link, DETACHED);

        // UpdateContact links and unlinks by hand too.
        let moved = contacts
            .update_contact(server.req(pb::UpdateContactRequest {
                contact: Some(pb::Contact {
                    id: cy.id.clone(),
                    organization_id: initech.id.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["organization_id"]),
                etag: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (moved.organization_id.as_str(), moved.organization_link),
            (initech.id.as_str(), MANUAL)
        );
        let unknown = contacts
            .update_contact(server.req(pb::UpdateContactRequest {
                contact: Some(pb::Contact {
                    id: cy.id.clone(),
                    organization_id: uuid::Uuid::now_v7().to_string(),
                    ..Default::default()
                }),
                update_mask: mask(&["organization_id"]),
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&unknown, &["contact.organization_id"]);

        let mut members = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = client
                .list_organization_members(server.req(pb::ListOrganizationMembersRequest {
                    organization_id: initech.id.clone(),
                    page_size: 1,
                    page_token,
                }))
                .await
                .unwrap()
                .into_inner();
            members.extend(page.contacts.into_iter().map(|c| c.id));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        assert_eq!(members, [bo.id.clone(), cy.id.clone()]);
        let missing = client
            .list_organization_members(server.req(pb::ListOrganizationMembersRequest {
                organization_id: uuid::Uuid::now_v7().to_string(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_code(&missing, tonic::Code::NotFound);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_are_updated_listed_and_deleted() {
    on_both(|server| async move {
        let mut client = server.organizations().await;
        let acme = create_org(&server, org("Acme", &["acme.com"])).await;
        let clash = client
            .create_organization(server.req(pb::CreateOrganizationRequest {
                organization: Some(org("Copy", &["ACME.com"])),
            }))
            .await
            .unwrap_err();
        assert_code(&clash, tonic::Code::AlreadyExists);
        {
            use tonic_types::StatusExt;
            assert_eq!(
                clash
                    .get_error_details()
                    .resource_info()
                    .map(|r| r.resource_name.clone()),
                Some(acme.id.clone())
            );
        }
        let bad = client
            .create_organization(server.req(pb::CreateOrganizationRequest {
                organization: Some(org(" ", &["acme", "ok.com", "OK.com"])),
            }))
            .await
            .unwrap_err();
        assert_invalid(
            &bad,
            &[
                "organization.name",
                "organization.domains[0]",
                "organization.domains[2]",
            ],
        );

        let ana = contact_with_email(&server, "ana@acme.net").await;
        let renamed = client
            .update_organization(server.req(pb::UpdateOrganizationRequest {
                organization: Some(pb::Organization {
                    id: acme.id.clone(),
                    name: "Acme Corp".into(),
                    domains: vec!["acme.com".into(), "acme.net".into()],
                    ..Default::default()
                }),
                update_mask: mask(&["name", "domains"]),
                etag: acme.etag.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(renamed.name, "Acme Corp");
        assert_eq!(renamed.member_count, 1);
        assert_eq!(server.get(&ana.id).await.organization_id, acme.id);
        let stale = client
            .update_organization(server.req(pb::UpdateOrganizationRequest {
                organization: Some(pb::Organization {
                    id: acme.id.clone(),
                    description: "x".into(),
                    ..Default::default()
                }),
                update_mask: None,
                etag: acme.etag.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&stale, tonic::Code::Aborted);

        let beta = create_org(&server, org("Beta", &[])).await;
        let first = client
            .list_organizations(server.req(pb::ListOrganizationsRequest {
                page_size: 1,
                page_token: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(first.organizations[0].id, acme.id);
        let second = client
            .list_organizations(server.req(pb::ListOrganizationsRequest {
                page_size: 1,
                page_token: first.next_page_token.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(second.organizations[0].id, beta.id);

        client
            .delete_organization(server.req(pb::DeleteOrganizationRequest {
                id: acme.id.clone(),
                etag: renamed.etag.clone(),
            }))
            .await
            .unwrap();
        let orphan = server.get(&ana.id).await;
        assert_eq!(
            (orphan.organization_id.as_str(), orphan.organization_link),
            ("", 0)
        );
        let gone = client
            .get_organization(server.req(pb::GetOrganizationRequest {
                id: acme.id.clone(),
            }))
            .await
            .unwrap_err();
        assert_code(&gone, tonic::Code::NotFound);
        // The domain is free again.
        create_org(&server, org("Acme again", &["acme.com"])).await;
        let other = server.new_tenant("US").await;
        let theirs = client
            .list_organizations(with_key(pb::ListOrganizationsRequest::default(), &other))
            .await
            .unwrap()
            .into_inner();
        assert!(theirs.organizations.is_empty());
        let hidden = client
            .get_organization(with_key(
                pb::GetOrganizationRequest {
                    id: beta.id.clone(),
                },
                &other,
            ))
            .await
            .unwrap_err();
        assert_code(&hidden, tonic::Code::NotFound);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_carry_custom_fields_and_tenants_extend_free_mail() {
    on_both(|server| async move {
        let mut fields = server.fields().await;
        fields
            .create_custom_field(server.req(pb::CreateCustomFieldRequest {
                field: Some(pb::CustomField {
                    record_type: pb::RecordType::Organization as i32,
                    display_name: "Industry".into(),
                    r#type: pb::CustomFieldType::Text as i32,
                    required: true,
                    ..Default::default()
                }),
            }))
            .await
            .unwrap();
        let mut client = server.organizations().await;
        let missing = client
            .create_organization(server.req(pb::CreateOrganizationRequest {
                organization: Some(org("Acme", &[])),
            }))
            .await
            .unwrap_err();
        assert_invalid(&missing, &["organization.custom_fields.industry"]);
        let mut acme = org("Acme", &["isp-hosted.example"]);
        acme.custom_fields.insert(
            "industry".into(),
            pb::CustomFieldValue {
                value: Some(pb::custom_field_value::Value::TextValue("Rockets".into())),
            },
        );
        let acme = create_org(&server, acme).await;
        assert_eq!(acme.custom_fields.len(), 1);

        // The tenant declares a domain free mail: it stops auto-linking.
        let mut tenants = server.tenants().await;
        let settings = tenants
            .update_tenant_settings(server.req(pb::UpdateTenantSettingsRequest {
                settings: Some(pb::TenantSettings {
                    extra_free_mail_domains: vec!["ISP-hosted.example".into()],
                    ..Default::default()
                }),
                update_mask: mask(&["extra_free_mail_domains"]),
                etag: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(settings.extra_free_mail_domains, ["isp-hosted.example"]);
        let created = server
            .resolve(sender(pb::Channel::Email, "a@isp-hosted.example"))
            .await;
        assert_eq!(created.contact.unwrap().organization_id, "");
        let bad = tenants
            .update_tenant_settings(server.req(pb::UpdateTenantSettingsRequest {
                settings: Some(pb::TenantSettings {
                    extra_free_mail_domains: vec!["not a domain".into()],
                    ..Default::default()
                }),
                update_mask: None,
                etag: String::new(),
            }))
            .await
            .unwrap_err();
        assert_invalid(&bad, &["settings.extra_free_mail_domains[0]"]);
    })
    .await;
}
