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

/// How many items to read for a page of `page_size`: one more, so the read
/// also tells whether another page follows.
pub fn overfetch(page_size: u32) -> u32 {
    page_size.saturating_add(1)
}

impl<T, C> Page<T, C> {
    /// The page of `page_size` from items read in order with [`overfetch`]:
    /// an extra item only says that another page follows, which continues
    /// after the `cursor` of the last item kept.
    pub fn from_overfetch(mut items: Vec<T>, page_size: u32, cursor: impl FnOnce(&T) -> C) -> Self {
        let size = usize::try_from(page_size).unwrap_or(usize::MAX);
        let next = if items.len() > size {
            items.truncate(size);
            items.last().map(cursor)
        } else {
            None
        };
        Page { items, next }
    }
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

    #[test]
    fn an_extra_item_means_a_next_page() {
        assert_eq!(overfetch(2), 3);
        let full = Page::from_overfetch(vec![1, 2, 3], 2, |last| *last);
        assert_eq!(
            full,
            Page {
                items: vec![1, 2],
                next: Some(2)
            }
        );
        let last = Page::from_overfetch(vec![1, 2], 2, |last| *last);
        assert_eq!(
            last,
            Page {
                items: vec![1, 2],
                next: None
            }
        );
    }
}
