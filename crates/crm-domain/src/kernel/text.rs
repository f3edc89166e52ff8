//! Text as the indexes compare it.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// A name as the search indexes hold it: accents removed, lower case,
/// anything but letters and digits taken for a space, runs of spaces
/// collapsed ("José  O'Brien" is "jose o brien"). Written with every
/// contact, applied to every search query and to the cursor of a list
/// ordered by name, so the two always agree.
pub fn fold(text: &str) -> String {
    let plain: String = text
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    plain.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Longest piece of a caller's input an error repeats, in characters.
pub const ECHO: usize = 40;

/// `text` cut to [`ECHO`] characters (with `...` when cut), for an error
/// message: an error never repeats unbounded input.
pub fn echo(text: &str) -> String {
    let mut cut: String = text.chars().take(ECHO).collect();
    if cut.len() < text.len() {
        cut.push_str("...");
    }
    cut
}
