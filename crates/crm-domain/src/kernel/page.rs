//! Paging: the size rules every List method shares. The opaque token format
//! is the gRPC adapter's business; the domain only sees the cursor.

/// Page size when the caller asks for none.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The largest page the server returns; larger requests are clamped.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The page size to use for a requested size (0 means the default).
///
/// # Errors
/// A negative size is invalid.
pub fn page_size(requested: i32) -> Result<u32, crate::DomainError> {
    match requested {
        size if size < 0 => Err(crate::DomainError::invalid(
            "page_size",
            "must not be negative",
        )),
        0 => Ok(DEFAULT_PAGE_SIZE),
        size => Ok(u32::try_from(size)
            .unwrap_or(MAX_PAGE_SIZE)
            .min(MAX_PAGE_SIZE)),
    }
}

/// One page of results and where the next begins.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Cursor of the next page; `None` on the last page.
    pub next: Option<C>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_rules() {
        assert_eq!(page_size(0), Ok(50));
        assert_eq!(page_size(7), Ok(7));
        assert_eq!(page_size(1000), Ok(1000));
        assert_eq!(page_size(5000), Ok(1000));
        assert!(page_size(-1).is_err());
    }
}
