//! The caller of a use case: the tenant it acts in and who is acting. Every
//! use case takes one, so that roles and scoped access can later be decided
//! in one place instead of in every signature.

use crate::tenancy::Tenant;

/// Who is acting, as the request's credentials say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A tenant API key: acts for the whole tenant, with every permission.
    /// (Users, roles and service keys acting for a user come with access
    /// control.)
    TenantKey,
}

/// The tenant a use case acts in, and who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    tenant: Tenant,
    principal: Principal,
}

impl Caller {
    /// A caller holding one of `tenant`'s API keys.
    pub fn tenant_key(tenant: Tenant) -> Self {
        Self {
            tenant,
            principal: Principal::TenantKey,
        }
    }

    /// The tenant it acts in, with the settings in force for this request.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// Who is acting.
    pub fn principal(&self) -> Principal {
        self.principal
    }

    /// The name records this caller owns are kept under (a segment's
    /// owner): `tenant` for a tenant key; a user's id once users exist.
    pub fn owner(&self) -> String {
        match self.principal {
            Principal::TenantKey => "tenant".to_owned(),
        }
    }
}
