//! Identity matching rules. A person can write in from many addresses (an
//! email, a phone number, an Instagram or Telegram handle, an opaque id issued
//! by Messenger, WhatsApp or the web-chat widget), and each one is stored
//! normalised beside the raw form, unique per (tenant, kind, normalised value).
//! This module holds the pure functions that produce that normalised value, so
//! that "John.Doe@Example.COM " and "john.doe@example.com", or
//! "(415) 555-0123" and "+1 415-555-0123", resolve to the same contact. Every
//! normaliser is idempotent: normalising its own output gives the same output.

use crate::identity::{PhoneInput, Region, normalize_phone};

/// Longest normalised email address accepted, in bytes (RFC 5321 path limit less the brackets).
const MAX_EMAIL_LEN: usize = 254;

/// Longest local part of an email address accepted, in bytes (RFC 5321).
const MAX_EMAIL_LOCAL_LEN: usize = 64;

/// Longest DNS label accepted in an email domain, in bytes (RFC 1035).
const MAX_DOMAIN_LABEL_LEN: usize = 63;

/// Longest handle accepted, in characters.
const MAX_HANDLE_LEN: usize = 64;

/// Longest opaque id accepted, in bytes.
const MAX_OPAQUE_LEN: usize = 255;

/// Kinds of identity a contact can be recognised by. Stored as `as_str()` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentityKind {
    /// An email address, normalised by [`normalize_email`].
    Email,
    /// A phone number in E.164, normalised by [`normalize_phone`].
    Phone,
    /// An Instagram handle, normalised by [`normalize_handle`].
    Instagram,
    /// A Telegram handle, normalised by [`normalize_handle`].
    Telegram,
    /// A Messenger page-scoped id (PSID), kept as given by [`normalize_opaque`].
    Messenger,
    /// A web-chat visitor id, kept as given by [`normalize_opaque`].
    Webchat,
    /// A WhatsApp business-scoped user id, kept as given by [`normalize_opaque`].
    WhatsappUserId,
    /// An id in another system (an import, an integration), kept as given by [`normalize_opaque`].
    ExternalId,
}

impl IdentityKind {
    /// Every kind, in declaration order.
    pub const ALL: [IdentityKind; 8] = [
        IdentityKind::Email,
        IdentityKind::Phone,
        IdentityKind::Instagram,
        IdentityKind::Telegram,
        IdentityKind::Messenger,
        IdentityKind::Webchat,
        IdentityKind::WhatsappUserId,
        IdentityKind::ExternalId,
    ];

    /// The stored text of this kind, e.g. `"whatsapp_user_id"`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Email => "email",
            IdentityKind::Phone => "phone",
            IdentityKind::Instagram => "instagram",
            IdentityKind::Telegram => "telegram",
            IdentityKind::Messenger => "messenger",
            IdentityKind::Webchat => "webchat",
            IdentityKind::WhatsappUserId => "whatsapp_user_id",
            IdentityKind::ExternalId => "external_id",
        }
    }

    /// The kind whose [`as_str`](IdentityKind::as_str) is `s` (exact match), if any.
    pub fn parse(s: &str) -> Option<IdentityKind> {
        IdentityKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
    }
}

/// Inbound channels a message can arrive on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Email; the sender is an email address.
    Email,
    /// A phone line of unspecified kind; the sender is a phone number.
    Phone,
    /// SMS; the sender is a phone number.
    Sms,
    /// A voice call; the caller is a phone number.
    Voice,
    /// WhatsApp; the sender is a phone number or a business-scoped user id.
    Whatsapp,
    /// Facebook Messenger; the sender is a page-scoped id (PSID).
    Messenger,
    /// Instagram direct messages; the sender is a handle.
    Instagram,
    /// Telegram; the sender is a handle.
    Telegram,
    /// The web-chat widget; the sender is a visitor id.
    Webchat,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 9] = [
        Channel::Email,
        Channel::Phone,
        Channel::Sms,
        Channel::Voice,
        Channel::Whatsapp,
        Channel::Messenger,
        Channel::Instagram,
        Channel::Telegram,
        Channel::Webchat,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Phone => "phone",
            Channel::Sms => "sms",
            Channel::Voice => "voice",
            Channel::Whatsapp => "whatsapp",
            Channel::Messenger => "messenger",
            Channel::Instagram => "instagram",
            Channel::Telegram => "telegram",
            Channel::Webchat => "webchat",
        }
    }

    /// Inverse of [`Channel::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|channel| channel.as_str() == text)
    }
}

/// An address after normalisation, with the raw form kept for display.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NormalizedAddress {
    /// What kind of identity the address denotes.
    pub kind: IdentityKind,
    /// The normalised value, unique per (tenant, kind).
    pub value: String,
    /// The address as written, less surrounding whitespace.
    pub raw: String,
}

/// Why an address could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The address is empty or only whitespace.
    #[error("address is empty")]
    Empty,
    /// The address is longer than the limit for its kind.
    #[error("address is too long (at most {max} allowed)")]
    TooLong {
        /// The limit: bytes for emails, phone input and opaque ids, characters for handles.
        max: usize,
    },
    /// The address is not a usable email address; the text says why.
    #[error("invalid email address: {0}")]
    InvalidEmail(&'static str),
    /// The address is not a valid phone number; the text says why.
    #[error("invalid phone number: {0}")]
    InvalidPhone(&'static str),
    /// The address is not a usable handle; the text says why.
    #[error("invalid handle: {0}")]
    InvalidHandle(&'static str),
    /// The address is not a usable opaque id; the text says why.
    #[error("invalid id: {0}")]
    InvalidOpaqueId(&'static str),
    /// The region is not a two-letter code with a known country calling code.
    #[error("invalid region: expected a two-letter country code with a known calling code")]
    InvalidRegion,
}

/// Normalises an email address: trims it, converts an internationalised
/// domain to ASCII (punycode) and lower-cases the whole address. Dots and
/// plus tags are kept ("a.b+x@gmail.com" stays distinct from "ab@gmail.com").
pub fn normalize_email(raw: &str) -> Result<String, AddressError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(AddressError::Empty);
    }
    let (local, domain) = match trimmed.split_once('@') {
        Some((local, domain)) if !domain.contains('@') => (local, domain),
        _ => return Err(AddressError::InvalidEmail("must contain exactly one '@'")),
    };
    if local.is_empty() {
        return Err(AddressError::InvalidEmail("local part is empty"));
    }
    if local.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AddressError::InvalidEmail(
            "local part contains whitespace or control characters",
        ));
    }
    let local = local.to_lowercase();
    if local.len() > MAX_EMAIL_LOCAL_LEN {
        return Err(AddressError::InvalidEmail(
            "local part is longer than 64 bytes",
        ));
    }
    if domain.is_empty() {
        return Err(AddressError::InvalidEmail("domain is empty"));
    }
    let domain = idna::domain_to_ascii(domain)
        .map_err(|_| AddressError::InvalidEmail("domain is not a valid domain name"))?
        .to_ascii_lowercase();
    check_domain(&domain)?;
    let email = format!("{local}@{domain}");
    if email.len() > MAX_EMAIL_LEN {
        return Err(AddressError::TooLong { max: MAX_EMAIL_LEN });
    }
    Ok(email)
}

/// Checks an ASCII (punycode) domain: at least two labels, each non-empty,
/// letters, digits and inner hyphens only, at most 63 bytes.
fn check_domain(domain: &str) -> Result<(), AddressError> {
    if !domain.contains('.') {
        return Err(AddressError::InvalidEmail("domain has no dot"));
    }
    for label in domain.split('.') {
        if label.is_empty() {
            return Err(AddressError::InvalidEmail("domain has an empty label"));
        }
        if label.len() > MAX_DOMAIN_LABEL_LEN {
            return Err(AddressError::InvalidEmail(
                "domain label is longer than 63 bytes",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(AddressError::InvalidEmail(
                "domain label starts or ends with a hyphen",
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(AddressError::InvalidEmail(
                "domain contains a character other than letters, digits, hyphens and dots",
            ));
        }
    }
    Ok(())
}

/// Normalises an Instagram or Telegram handle: trims it, strips one leading
/// '@' and lower-cases it ("@John_Doe " becomes "john_doe").
pub fn normalize_handle(raw: &str) -> Result<String, AddressError> {
    let trimmed = raw.trim();
    let bare = trimmed.strip_prefix('@').unwrap_or(trimmed);
    if bare.is_empty() {
        return Err(AddressError::Empty);
    }
    let handle = bare.to_lowercase();
    if handle.chars().count() > MAX_HANDLE_LEN {
        return Err(AddressError::TooLong {
            max: MAX_HANDLE_LEN,
        });
    }
    if handle.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AddressError::InvalidHandle(
            "contains whitespace or control characters",
        ));
    }
    if handle.contains('@') {
        return Err(AddressError::InvalidHandle(
            "contains '@' after the leading one",
        ));
    }
    Ok(handle)
}

/// Checks an opaque id (Messenger PSID, web-chat visitor id, WhatsApp user
/// id, external id) and returns it byte for byte. Ids with surrounding
/// whitespace are rejected rather than trimmed, so the id is never altered.
pub fn normalize_opaque(raw: &str) -> Result<String, AddressError> {
    if raw.trim().is_empty() {
        return Err(AddressError::Empty);
    }
    if raw.len() > MAX_OPAQUE_LEN {
        return Err(AddressError::TooLong {
            max: MAX_OPAQUE_LEN,
        });
    }
    if raw.chars().any(char::is_control) {
        return Err(AddressError::InvalidOpaqueId("contains control characters"));
    }
    if raw.trim() != raw {
        return Err(AddressError::InvalidOpaqueId(
            "has leading or trailing whitespace",
        ));
    }
    Ok(raw.to_owned())
}

/// Normalises a value of a given kind (Phone uses PhoneInput::National).
pub fn normalize(
    kind: IdentityKind,
    raw: &str,
    region: Region,
) -> Result<NormalizedAddress, AddressError> {
    let value = match kind {
        IdentityKind::Email => normalize_email(raw)?,
        IdentityKind::Phone => normalize_phone(raw, region, PhoneInput::National)?,
        IdentityKind::Instagram | IdentityKind::Telegram => normalize_handle(raw)?,
        IdentityKind::Messenger
        | IdentityKind::Webchat
        | IdentityKind::WhatsappUserId
        | IdentityKind::ExternalId => normalize_opaque(raw)?,
    };
    Ok(NormalizedAddress {
        kind,
        value,
        raw: raw.trim().to_owned(),
    })
}

/// The identity a channel's sender address denotes. Email->Email; Phone/Sms/Voice->Phone (National);
/// Whatsapp->Phone (International) when the address is a phone number (only digits, spaces, +, -, (, ), .),
/// else WhatsappUserId (opaque: WhatsApp business-scoped user ids); Messenger->Messenger (opaque PSID);
/// Instagram->Instagram (handle); Telegram->Telegram (handle); Webchat->Webchat (opaque visitor id).
pub fn address_for_channel(
    channel: Channel,
    raw: &str,
    region: Region,
) -> Result<NormalizedAddress, AddressError> {
    match channel {
        Channel::Email => normalize(IdentityKind::Email, raw, region),
        Channel::Phone | Channel::Sms | Channel::Voice => {
            normalize(IdentityKind::Phone, raw, region)
        }
        Channel::Whatsapp if looks_like_phone(raw) => Ok(NormalizedAddress {
            kind: IdentityKind::Phone,
            value: normalize_phone(raw, region, PhoneInput::International)?,
            raw: raw.trim().to_owned(),
        }),
        Channel::Whatsapp => normalize(IdentityKind::WhatsappUserId, raw, region),
        Channel::Messenger => normalize(IdentityKind::Messenger, raw, region),
        Channel::Instagram => normalize(IdentityKind::Instagram, raw, region),
        Channel::Telegram => normalize(IdentityKind::Telegram, raw, region),
        Channel::Webchat => normalize(IdentityKind::Webchat, raw, region),
    }
}

/// Whether a WhatsApp sender address is written as a phone number: only
/// digits and the punctuation people put in numbers, with at least one digit
/// (or nothing at all, which the phone normaliser then reports as empty).
fn looks_like_phone(raw: &str) -> bool {
    let trimmed = raw.trim();
    trimmed
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.'))
        && (trimmed.is_empty() || trimmed.chars().any(|c| c.is_ascii_digit()))
}

/// The local part of an email as written ("John.Doe" for "John.Doe@Example.com"), for a default display name.
/// Surrounding whitespace is ignored; text without an '@' is returned whole.
pub fn email_local_part(raw: &str) -> &str {
    let trimmed = raw.trim();
    trimmed.rsplit_once('@').map_or(trimmed, |(local, _)| local)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn region(code: &str) -> Region {
        Region::parse(code).unwrap()
    }

    // ---- email ----

    fn check_email(input: &str, expected: Result<&str, AddressError>) {
        assert_eq!(
            normalize_email(input),
            expected.map(str::to_owned),
            "input {input:?}"
        );
    }

    #[test]
    fn email_table() {
        check_email("John.Doe@Example.COM", Ok("john.doe@example.com"));
        check_email("  john@example.com\t\n", Ok("john@example.com"));
        check_email("a.b+x@Gmail.com", Ok("a.b+x@gmail.com"));
        check_email("A.B+X@gmail.com", Ok("a.b+x@gmail.com"));
        check_email("info@bücher.de", Ok("info@xn--bcher-kva.de"));
        check_email("info@BÜCHER.de", Ok("info@xn--bcher-kva.de"));
        check_email("info@xn--bcher-kva.de", Ok("info@xn--bcher-kva.de"));
        check_email(
            "x@mail.sub-domain.example.co.uk",
            Ok("x@mail.sub-domain.example.co.uk"),
        );
        check_email("", Err(AddressError::Empty));
        check_email("   ", Err(AddressError::Empty));
        let one_at = AddressError::InvalidEmail("must contain exactly one '@'");
        check_email("john.example.com", Err(one_at.clone()));
        check_email("john@doe@example.com", Err(one_at));
        check_email(
            "@example.com",
            Err(AddressError::InvalidEmail("local part is empty")),
        );
        check_email("john@", Err(AddressError::InvalidEmail("domain is empty")));
        check_email(
            "john@localhost",
            Err(AddressError::InvalidEmail("domain has no dot")),
        );
        let space =
            AddressError::InvalidEmail("local part contains whitespace or control characters");
        check_email("john doe@example.com", Err(space.clone()));
        check_email("john\u{7}@example.com", Err(space));
        let bad_char = AddressError::InvalidEmail(
            "domain contains a character other than letters, digits, hyphens and dots",
        );
        check_email("john@exa mple.com", Err(bad_char.clone()));
        check_email("john@ex_ample.com", Err(bad_char));
        let empty_label = AddressError::InvalidEmail("domain has an empty label");
        check_email("john@example..com", Err(empty_label.clone()));
        check_email("john@example.com.", Err(empty_label.clone()));
        check_email("john@.example.com", Err(empty_label));
        let hyphen = AddressError::InvalidEmail("domain label starts or ends with a hyphen");
        check_email("john@-example.com", Err(hyphen.clone()));
        check_email("john@example-.com", Err(hyphen));
        check_email(
            &format!("{}@example.com", "a".repeat(65)),
            Err(AddressError::InvalidEmail(
                "local part is longer than 64 bytes",
            )),
        );
        check_email(
            &format!(
                "{}@{}.com",
                "a".repeat(64),
                ["b".repeat(63), "c".repeat(63), "d".repeat(63)].join(".")
            ),
            Err(AddressError::TooLong { max: 254 }),
        );
        check_email(
            &format!("a@{}.com", "b".repeat(64)),
            Err(AddressError::InvalidEmail(
                "domain label is longer than 63 bytes",
            )),
        );
    }

    // ---- phone ----

    fn check_handle(input: &str, expected: Result<&str, AddressError>) {
        assert_eq!(
            normalize_handle(input),
            expected.map(str::to_owned),
            "input {input:?}"
        );
    }

    #[test]
    fn handle_table() {
        check_handle("@John_Doe ", Ok("john_doe"));
        check_handle("john.doe", Ok("john.doe"));
        check_handle("  JOHN  ", Ok("john"));
        check_handle("@", Err(AddressError::Empty));
        check_handle("  ", Err(AddressError::Empty));
        check_handle(
            "@@john",
            Err(AddressError::InvalidHandle(
                "contains '@' after the leading one",
            )),
        );
        check_handle(
            "jo@hn",
            Err(AddressError::InvalidHandle(
                "contains '@' after the leading one",
            )),
        );
        check_handle(
            "john doe",
            Err(AddressError::InvalidHandle(
                "contains whitespace or control characters",
            )),
        );
        check_handle(
            "john\u{0}",
            Err(AddressError::InvalidHandle(
                "contains whitespace or control characters",
            )),
        );
        check_handle(&"a".repeat(64), Ok(&"a".repeat(64)));
        check_handle(&format!("@{}", "a".repeat(64)), Ok(&"a".repeat(64)));
        check_handle(&"a".repeat(65), Err(AddressError::TooLong { max: 64 }));
    }

    // ---- opaque ids ----

    fn check_opaque(input: &str, expected: Result<&str, AddressError>) {
        assert_eq!(
            normalize_opaque(input),
            expected.map(str::to_owned),
            "input {input:?}"
        );
    }

    #[test]
    fn opaque_table() {
        check_opaque("1234567890123456", Ok("1234567890123456"));
        check_opaque("US.13491208655302741918", Ok("US.13491208655302741918"));
        check_opaque("Visitor-AbC_123==", Ok("Visitor-AbC_123=="));
        check_opaque("mixed Case with spaces", Ok("mixed Case with spaces"));
        check_opaque("ünïcødé", Ok("ünïcødé"));
        check_opaque(&"x".repeat(255), Ok(&"x".repeat(255)));
        check_opaque("", Err(AddressError::Empty));
        check_opaque("   ", Err(AddressError::Empty));
        check_opaque(&"x".repeat(256), Err(AddressError::TooLong { max: 255 }));
        check_opaque(
            "abc\ndef",
            Err(AddressError::InvalidOpaqueId("contains control characters")),
        );
        check_opaque(
            "abc\u{0}",
            Err(AddressError::InvalidOpaqueId("contains control characters")),
        );
        let ws = AddressError::InvalidOpaqueId("has leading or trailing whitespace");
        check_opaque(" abc", Err(ws.clone()));
        check_opaque("abc ", Err(ws));
    }

    // ---- kinds, regions, channels ----

    #[test]
    fn identity_kind_round_trips() {
        let texts: Vec<&str> = IdentityKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            texts,
            [
                "email",
                "phone",
                "instagram",
                "telegram",
                "messenger",
                "webchat",
                "whatsapp_user_id",
                "external_id"
            ]
        );
        for kind in IdentityKind::ALL {
            assert_eq!(IdentityKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(IdentityKind::parse("Email"), None);
        assert_eq!(IdentityKind::parse(""), None);
    }

    fn check_channel(channel: Channel, raw: &str, kind: IdentityKind, value: &str) {
        let got = address_for_channel(channel, raw, region("US")).unwrap();
        assert_eq!(
            got,
            NormalizedAddress {
                kind,
                value: value.to_owned(),
                raw: raw.trim().to_owned()
            },
            "{channel:?} {raw:?}"
        );
    }

    #[test]
    fn address_for_every_channel() {
        use IdentityKind as K;
        check_channel(
            Channel::Email,
            " John@Example.com ",
            K::Email,
            "john@example.com",
        );
        check_channel(Channel::Phone, "(650) 253-0000", K::Phone, "+16502530000");
        check_channel(Channel::Sms, "650.253.0000", K::Phone, "+16502530000");
        check_channel(
            Channel::Voice,
            "+44 20 7946 0018",
            K::Phone,
            "+442079460018",
        );
        check_channel(Channel::Whatsapp, "14155550123", K::Phone, "+14155550123");
        check_channel(
            Channel::Whatsapp,
            "+1 (415) 555-0123",
            K::Phone,
            "+14155550123",
        );
        check_channel(
            Channel::Whatsapp,
            "551187654321",
            K::Phone,
            "+5511987654321",
        );
        check_channel(
            Channel::Whatsapp,
            "US.13491208655302741918",
            K::WhatsappUserId,
            "US.13491208655302741918",
        );
        check_channel(
            Channel::Messenger,
            "24012345678901234",
            K::Messenger,
            "24012345678901234",
        );
        check_channel(Channel::Instagram, "@John_Doe", K::Instagram, "john_doe");
        check_channel(Channel::Telegram, "@Durov", K::Telegram, "durov");
        check_channel(Channel::Webchat, "v_8f3a9C", K::Webchat, "v_8f3a9C");

        let us = region("US");
        // WhatsApp digits are read as international, never national to the region.
        assert!(address_for_channel(Channel::Whatsapp, "6502530000", us).is_err());
        assert_eq!(
            address_for_channel(Channel::Whatsapp, " ", us),
            Err(AddressError::Empty)
        );
        assert!(address_for_channel(Channel::Email, "not-an-email", us).is_err());
        assert!(address_for_channel(Channel::Sms, "abc", us).is_err());
    }

    #[test]
    fn normalize_dispatches_by_kind() {
        let us = region("US");
        let got = normalize(IdentityKind::Phone, " (650) 253-0000 ", us).unwrap();
        assert_eq!(got.kind, IdentityKind::Phone);
        assert_eq!(got.value, "+16502530000");
        assert_eq!(got.raw, "(650) 253-0000");
        assert_eq!(
            normalize(IdentityKind::ExternalId, "CRM-42", us)
                .unwrap()
                .value,
            "CRM-42"
        );
        assert_eq!(
            normalize(IdentityKind::Telegram, "@Bob", us).unwrap().value,
            "bob"
        );
        assert_eq!(
            normalize(IdentityKind::Email, "A@B.co", us).unwrap().value,
            "a@b.co"
        );
    }

    #[test]
    fn email_local_part_as_written() {
        assert_eq!(email_local_part("John.Doe@Example.com"), "John.Doe");
        assert_eq!(email_local_part("  a.b+x@gmail.com "), "a.b+x");
        assert_eq!(email_local_part("no-at-sign"), "no-at-sign");
        assert_eq!(email_local_part("@example.com"), "");
        assert_eq!(email_local_part(""), "");
    }

    #[test]
    fn error_messages_are_lowercase_without_period() {
        let errors = [
            AddressError::Empty,
            AddressError::TooLong { max: 3 },
            AddressError::InvalidEmail("x"),
            AddressError::InvalidPhone("x"),
            AddressError::InvalidHandle("x"),
            AddressError::InvalidOpaqueId("x"),
            AddressError::InvalidRegion,
        ];
        for error in errors {
            let text = error.to_string();
            assert!(!text.ends_with('.'), "{text}");
            assert_eq!(text, text.to_lowercase(), "{text}");
        }
    }

    // ---- properties ----

    /// Randomly upper-cases ASCII letters of `s`.
    fn random_case(s: &str, mask: u64) -> String {
        s.chars()
            .enumerate()
            .map(|(i, c)| {
                if mask >> (i % 64) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    }

    prop_compose! {
        fn email_input()(
            local in "[a-z0-9][a-z0-9._+-]{0,20}",
            labels in prop::collection::vec("[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", 1..4),
            tld in "[a-z]{2,6}",
            mask in any::<u64>(),
            before in "[ \t]{0,3}",
            after in "[ \t\n]{0,3}",
        ) -> String {
            let domain = format!("{}.{tld}", labels.join("."));
            format!("{before}{}{after}", random_case(&format!("{local}@{domain}"), mask))
        }
    }

    proptest! {
        #[test]
        fn email_is_idempotent_and_lowercase_ascii(input in email_input()) {
            let once = normalize_email(&input).unwrap();
            prop_assert!(once.is_ascii(), "{once:?}");
            prop_assert_eq!(once.to_ascii_lowercase(), once.clone());
            prop_assert_eq!(normalize_email(&once), Ok(once.clone()));
        }

        #[test]
        fn email_never_panics_and_is_idempotent_when_accepted(input in "\\PC{0,40}") {
            if let Ok(once) = normalize_email(&input) {
                prop_assert_eq!(normalize_email(&once), Ok(once.clone()));
            }
        }

        #[test]
        fn handle_is_idempotent(input in "[ ]{0,2}@?[A-Za-z0-9_.]{1,30}[ ]{0,2}") {
            let once = normalize_handle(&input).unwrap();
            prop_assert_eq!(normalize_handle(&once), Ok(once.clone()));
        }

        #[test]
        fn handle_is_idempotent_when_accepted(input in "\\PC{0,70}") {
            if let Ok(once) = normalize_handle(&input) {
                prop_assert_eq!(normalize_handle(&once), Ok(once.clone()));
            }
        }

        #[test]
        fn opaque_is_kept_exactly(input in "[!-~][ -~]{0,100}[!-~]") {
            prop_assert_eq!(normalize_opaque(&input), Ok(input.clone()));
        }

        #[test]
        fn opaque_is_idempotent_when_accepted(input in "\\PC{0,70}") {
            if let Ok(once) = normalize_opaque(&input) {
                prop_assert_eq!(&once, &input);
                prop_assert_eq!(normalize_opaque(&once), Ok(once.clone()));
            }
        }
    }
}
