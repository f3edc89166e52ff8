//! Web addresses as record fields hold them: absolute http(s) URLs.

/// Limit on URLs, in bytes.
pub const MAX_URL: usize = 2048;

/// Whether `url` is an absolute http(s) URL of at most [`MAX_URL`] bytes.
pub fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    url.len() <= MAX_URL
        && rest.is_some_and(|rest| {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            !host.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        })
}
