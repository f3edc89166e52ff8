//! Just enough of a Rust lexer to find paths: identifiers and the
//! punctuation of `use` trees, each with its line, with comments, string
//! and character literals dropped so that text in them never counts.

/// A token the path scanner cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An identifier or keyword (`crate`, `use`, `contacts`, `r#type` as `type`).
    Ident(String),
    /// `::`
    PathSep,
    /// `{`
    Open,
    /// `}`
    Close,
    /// `,`
    Comma,
    /// `;`
    Semi,
    /// Any other punctuation or a literal.
    Other,
}

/// A token and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexed {
    pub token: Token,
    pub line: usize,
}

/// The tokens of `source`.
pub fn tokens(source: &str) -> Vec<Lexed> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let at = |index: usize| chars.get(index).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        let start_line = line;
        let mut push = |token: Token| {
            out.push(Lexed {
                token,
                line: start_line,
            })
        };
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '/' if at(i + 1) == '/' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == '*' => {
                // Block comments nest in Rust.
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && at(i + 1) == '*' {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && at(i + 1) == '/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            '"' => {
                i = skip_string(&chars, i + 1, &mut line);
                push(Token::Other);
            }
            '\'' => {
                // A character literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
                if at(i + 1) == '\\' {
                    // Past the backslash and the escaped character, to the quote.
                    i += 3;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                    push(Token::Other);
                } else if at(i + 2) == '\'' {
                    i += 3;
                    push(Token::Other);
                } else {
                    i += 1;
                    push(Token::Other);
                }
            }
            ':' if at(i + 1) == ':' => {
                i += 2;
                push(Token::PathSep);
            }
            '{' | '}' | ',' | ';' => {
                i += 1;
                push(match c {
                    '{' => Token::Open,
                    '}' => Token::Close,
                    ',' => Token::Comma,
                    _ => Token::Semi,
                });
            }
            c if c.is_alphabetic() || c == '_' => {
                if let Some(end) = raw_string_end(&chars, i, &mut line) {
                    i = end;
                    push(Token::Other);
                    continue;
                }
                if (c == 'b' || c == 'c') && at(i + 1) == '"' {
                    i = skip_string(&chars, i + 2, &mut line);
                    push(Token::Other);
                    continue;
                }
                if c == 'r' && at(i + 1) == '#' && (at(i + 2).is_alphabetic() || at(i + 2) == '_') {
                    i += 2;
                }
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                push(Token::Ident(chars[start..i].iter().collect()));
            }
            c if c.is_ascii_digit() => {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                push(Token::Other);
            }
            _ => {
                i += 1;
                push(Token::Other);
            }
        }
    }
    out
}

/// Skips a string body from `i` (just after the opening quote) to just
/// after its closing quote, honouring backslash escapes.
fn skip_string(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                if chars.get(i + 1) == Some(&'\n') {
                    *line += 1;
                }
                i += 2;
            }
            '"' => return i + 1,
            '\n' => {
                *line += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    i
}

/// When a raw string (`r"…"`, `r#"…"#`, `br"…"`, `cr"…"`) starts at `i`,
/// the index just after it.
fn raw_string_end(chars: &[char], i: usize, line: &mut usize) -> Option<usize> {
    let mut j = i;
    if matches!(chars.get(j), Some('b' | 'c')) {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if chars.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < chars.len() {
        if chars[j] == '\n' {
            *line += 1;
        }
        if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idents(source: &str) -> Vec<(String, usize)> {
        tokens(source)
            .into_iter()
            .filter_map(|lexed| match lexed.token {
                Token::Ident(name) => Some((name, lexed.line)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn comments_strings_and_chars_hold_no_identifiers() {
        let source = r####"a // crate::b
/* c /* nested d */ e */ f
"g \" h" r#"i "j" k"# b"l" br"m" 'n' '\'' '\u{41}'
fn x<'o>() {}
"####;
        assert_eq!(
            idents(source),
            [
                ("a".to_owned(), 1),
                ("f".to_owned(), 2),
                ("fn".to_owned(), 4),
                ("x".to_owned(), 4),
                ("o".to_owned(), 4),
            ]
        );
    }

    #[test]
    fn lines_count_inside_multi_line_comments_and_strings() {
        let source = "/*\n\n*/ a \"\n\" b r#\"\n\"# c\n// d\ne";
        assert_eq!(
            idents(source),
            [
                ("a".to_owned(), 3),
                ("b".to_owned(), 4),
                ("c".to_owned(), 5),
                ("e".to_owned(), 7),
            ]
        );
    }

    #[test]
    fn paths_and_trees_become_punctuation() {
        let kinds: Vec<Token> = tokens("use crate::{a, r#b};")
            .into_iter()
            .map(|lexed| lexed.token)
            .collect();
        assert_eq!(
            kinds,
            [
                Token::Ident("use".to_owned()),
                Token::Ident("crate".to_owned()),
                Token::PathSep,
                Token::Open,
                Token::Ident("a".to_owned()),
                Token::Comma,
                Token::Ident("b".to_owned()),
                Token::Close,
                Token::Semi,
            ]
        );
    }
}
