//! Organizations, the email domains they own, contacts' links to them, and
//! each tenant's own additions to the free-mail list.
//!
//! `organization_domains` is keyed by (tenant, domain): a domain has one
//! owner per tenant. A contact's link is `organization_id` plus how it came
//! about (`organization_link`: `auto`, `manual`, or `detached` with no
//! organization, meaning "taken out by hand, do not auto-link"). An
//! expression index on the domain part of email identities lets an
//! organization that gains a domain find the contacts there without
//! scanning the tenant's addresses. On SQLite that index must not be
//! partial on `kind`: a partial index whose condition a bound parameter
//! could satisfy makes SQLite re-prepare every statement that binds that
//! column whenever the value changes, which hit the sender-resolution hot
//! path (`kind = $2`) on every call and cost 40% of its throughput.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::{add_column_if_missing, execute_all};

#[derive(Debug)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_organizations"
    }
}

const POSTGRES: &str = r#"
CREATE TABLE IF NOT EXISTS organizations (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    name text NOT NULL,
    description text NOT NULL,
    custom_values text NOT NULL DEFAULT '{}',
    version bigint NOT NULL,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE IF NOT EXISTS organization_domains (
    tenant_id uuid NOT NULL,
    domain text NOT NULL,
    organization_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, domain),
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS organization_domains_owner ON organization_domains (tenant_id, organization_id);
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS organization_id uuid;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS organization_link text;
CREATE INDEX IF NOT EXISTS contacts_organization ON contacts (tenant_id, organization_id) WHERE organization_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS contact_identities_email_domain ON contact_identities (tenant_id, split_part(value, '@', 2)) WHERE kind = 'email';
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS free_mail_domains text NOT NULL DEFAULT '[]';
"#;

const SQLITE: &str = r#"
CREATE TABLE IF NOT EXISTS organizations (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    custom_values TEXT NOT NULL DEFAULT '{}',
    version INTEGER NOT NULL,
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS organization_domains (
    tenant_id BLOB NOT NULL,
    domain TEXT NOT NULL,
    organization_id BLOB NOT NULL,
    PRIMARY KEY (tenant_id, domain),
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS organization_domains_owner ON organization_domains (tenant_id, organization_id);
CREATE INDEX IF NOT EXISTS contact_identities_email_domain ON contact_identities (tenant_id, kind, substr(value, instr(value, '@') + 1));
"#;

const SQLITE_AFTER_COLUMNS: &str = r#"
CREATE INDEX IF NOT EXISTS contacts_organization ON contacts (tenant_id, organization_id) WHERE organization_id IS NOT NULL;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => execute_all(manager, POSTGRES).await,
            DatabaseBackend::Sqlite => {
                execute_all(manager, SQLITE).await?;
                add_column_if_missing(manager, "contacts", "organization_id", "BLOB").await?;
                add_column_if_missing(manager, "contacts", "organization_link", "TEXT").await?;
                add_column_if_missing(
                    manager,
                    "tenants",
                    "free_mail_domains",
                    "TEXT NOT NULL DEFAULT '[]'",
                )
                .await?;
                execute_all(manager, SQLITE_AFTER_COLUMNS).await
            }
            other => Err(DbErr::Migration(format!(
                "unsupported database backend {other:?}"
            ))),
        }
    }
}
