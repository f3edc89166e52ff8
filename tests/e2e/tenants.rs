//! TenantService end to end: the caller's own settings, the default region
//! that decides how national phone numbers are read, and its validation and
//! etag.

use crm_proto::v1 as pb;
use tonic::Code;

use crate::fixtures::{assert_code, assert_invalid, mask, sender};
use crate::harness::{on_both, with_key};

fn region_update(region: &str, etag: &str) -> pb::UpdateTenantSettingsRequest {
    pb::UpdateTenantSettingsRequest {
        settings: Some(pb::TenantSettings {
            default_region: region.into(),
            ..Default::default()
        }),
        update_mask: mask(&["default_region"]),
        etag: etag.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_show_the_region_the_tenant_was_created_with() {
    on_both(|server| async move {
        let mut client = server.tenants().await;
        let settings = client
            .get_tenant_settings(server.req(pb::GetTenantSettingsRequest {}))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(settings.default_region, "US");
        assert_eq!(settings.name, "Test tenant");
        assert!(uuid::Uuid::parse_str(&settings.tenant_id).is_ok());
        assert!(!settings.etag.is_empty());
        assert!(settings.update_time.is_some());

        let brazil = server.new_tenant("BR").await;
        let other = client
            .get_tenant_settings(with_key(pb::GetTenantSettingsRequest {}, &brazil))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(other.default_region, "BR");
        assert_ne!(other.tenant_id, settings.tenant_id);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_region_changes_how_national_numbers_are_read() {
    on_both(|server| async move {
        let american = server
            .resolve(sender(pb::Channel::Sms, "(650) 253-0000"))
            .await
            .contact
            .unwrap();
        assert_eq!(american.phones[0].e164, "+16502530000");

        let mut client = server.tenants().await;
        let before = client
            .get_tenant_settings(server.req(pb::GetTenantSettingsRequest {}))
            .await
            .unwrap()
            .into_inner();
        let updated = client
            .update_tenant_settings(server.req(region_update("GB", &before.etag)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(updated.default_region, "GB");
        assert_ne!(updated.etag, before.etag);
        assert_eq!(updated.tenant_id, before.tenant_id);
        let read = client
            .get_tenant_settings(server.req(pb::GetTenantSettingsRequest {}))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(read, updated);

        let british = server
            .resolve(sender(pb::Channel::Sms, "020 7946 0018"))
            .await;
        assert!(british.created);
        assert_eq!(british.contact.unwrap().phones[0].e164, "+442079460018");
        // Numbers already on file keep their normalised form.
        assert_eq!(server.get(&american.id).await, american);
        let by_e164 = server
            .resolve(sender(pb::Channel::Sms, "+1 650 253 0000"))
            .await;
        assert_eq!(by_e164.contact.unwrap().id, american.id);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_set_without_a_mask_or_in_lower_case_is_accepted() {
    on_both(|server| async move {
        let mut client = server.tenants().await;
        let updated = client
            .update_tenant_settings(server.req(pb::UpdateTenantSettingsRequest {
                update_mask: None,
                ..region_update("br", "")
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(updated.default_region, "BR");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_regions_are_refused_and_change_nothing() {
    on_both(|server| async move {
        let mut client = server.tenants().await;
        let before = client
            .get_tenant_settings(server.req(pb::GetTenantSettingsRequest {}))
            .await
            .unwrap()
            .into_inner();
        for invalid in ["XX", "USA", "1A", ""] {
            let status = client
                .update_tenant_settings(server.req(region_update(invalid, "")))
                .await
                .expect_err(invalid);
            assert_invalid(&status, &["settings.default_region"]);
        }
        let status = client
            .update_tenant_settings(server.req(pb::UpdateTenantSettingsRequest {
                update_mask: mask(&["name"]),
                ..region_update("GB", "")
            }))
            .await
            .unwrap_err();
        assert_invalid(&status, &["update_mask.paths[0]"]);
        let status = client
            .update_tenant_settings(server.req(pb::UpdateTenantSettingsRequest {
                settings: None,
                ..region_update("GB", "")
            }))
            .await
            .unwrap_err();
        assert_invalid(&status, &["settings"]);
        let after = client
            .get_tenant_settings(server.req(pb::GetTenantSettingsRequest {}))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(after, before);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_settings_etag_is_aborted() {
    on_both(|server| async move {
        let mut client = server.tenants().await;
        let before = client
            .get_tenant_settings(server.req(pb::GetTenantSettingsRequest {}))
            .await
            .unwrap()
            .into_inner();
        let changed = client
            .update_tenant_settings(server.req(region_update("GB", &before.etag)))
            .await
            .unwrap()
            .into_inner();
        let status = client
            .update_tenant_settings(server.req(region_update("BR", &before.etag)))
            .await
            .unwrap_err();
        assert_code(&status, Code::Aborted);
        let after = client
            .get_tenant_settings(server.req(pb::GetTenantSettingsRequest {}))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(after, changed);
        assert_eq!(after.default_region, "GB");
        let status = client
            .update_tenant_settings(server.req(region_update("BR", "garbage")))
            .await
            .unwrap_err();
        assert_invalid(&status, &["etag"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_changes_only_its_own_settings() {
    on_both(|server| async move {
        let other = server.new_tenant("US").await;
        let mut client = server.tenants().await;
        client
            .update_tenant_settings(with_key(region_update("GB", ""), &other))
            .await
            .unwrap();
        let mine = client
            .get_tenant_settings(server.req(pb::GetTenantSettingsRequest {}))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(mine.default_region, "US");
        let national = server
            .resolve(sender(pb::Channel::Sms, "(650) 253-0000"))
            .await;
        assert_eq!(national.contact.unwrap().phones[0].e164, "+16502530000");
    })
    .await;
}
