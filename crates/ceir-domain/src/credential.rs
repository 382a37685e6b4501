//! The shape of ceir's secrets: a fixed prefix, a random body and a checksum, so that secret
//! scanners can find leaked ones and tell them from look-alikes offline.
//!
//! `ceir_` (API token), `ceir_cs_` (OAuth2 client secret) or `ceir_at_` (OAuth2 access token),
//! then 30 base62 characters of randomness (178 bits), then the CRC32 of those 30 characters in 6
//! base62 digits. This is the scheme GitHub uses for `ghp_` tokens. The checksum is not a secret
//! and protects nothing; it only lets a scanner (or the server, before any database work) discard
//! strings that are not ceir secrets.

/// What a secret is for, told by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    ApiToken,
    ClientSecret,
    AccessToken,
}

impl SecretKind {
    pub const ALL: [SecretKind; 3] = [
        SecretKind::ApiToken,
        SecretKind::ClientSecret,
        SecretKind::AccessToken,
    ];
    pub const fn prefix(self) -> &'static str {
        match self {
            SecretKind::ApiToken => "ceir_",
            SecretKind::ClientSecret => "ceir_cs_",
            SecretKind::AccessToken => "ceir_at_",
        }
    }
}

/// Random characters in a secret.
pub const BODY_LEN: usize = 30;
/// Base62 digits of the CRC32 (62^6 > 2^32).
pub const CHECK_LEN: usize = 6;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The checksum of a body: its CRC32 (IEEE) in 6 base62 digits, most significant first.
pub fn checksum(body: &str) -> [u8; CHECK_LEN] {
    let mut n = crc32fast::hash(body.as_bytes());
    let mut out = [b'0'; CHECK_LEN];
    for slot in out.iter_mut().rev() {
        // n % 62 < 62, so the index is always in range.
        *slot = BASE62.get((n % 62) as usize).copied().unwrap_or(b'0');
        n /= 62;
    }
    out
}

/// A body of the right length made only of base62 characters.
pub fn is_body(body: &str) -> bool {
    body.len() == BODY_LEN && body.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The full secret for a random body; `None` if the body is not [`BODY_LEN`] base62 characters.
pub fn compose(kind: SecretKind, body: &str) -> Option<String> {
    if !is_body(body) {
        return None;
    }
    let check = checksum(body);
    let mut s = String::with_capacity(kind.prefix().len() + BODY_LEN + CHECK_LEN);
    s.push_str(kind.prefix());
    s.push_str(body);
    s.extend(check.iter().map(|b| char::from(*b)));
    Some(s)
}

/// The kind of a well-formed secret whose checksum holds; `None` for anything else.
pub fn recognise(s: &str) -> Option<SecretKind> {
    // The longer prefixes first: `ceir_` is a prefix of the others.
    let kind = [
        SecretKind::ClientSecret,
        SecretKind::AccessToken,
        SecretKind::ApiToken,
    ]
    .into_iter()
    .find(|k| s.starts_with(k.prefix()))?;
    let rest = s.get(kind.prefix().len()..)?;
    if rest.len() != BODY_LEN + CHECK_LEN {
        return None;
    }
    let (body, check) = rest.split_at(BODY_LEN);
    (is_body(body) && check.as_bytes() == checksum(body)).then_some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composed_secrets_are_recognised_and_typos_are_not() {
        let body = "aZ09aZ09aZ09aZ09aZ09aZ09aZ09aZ";
        for kind in SecretKind::ALL {
            let s = compose(kind, body).unwrap();
            assert_eq!(s.len(), kind.prefix().len() + 36);
            assert_eq!(recognise(&s), Some(kind), "{s}");
            // Any one changed character of body or checksum is caught.
            for i in kind.prefix().len()..s.len() {
                let mut b = s.clone().into_bytes();
                b[i] = if b[i] == b'x' { b'y' } else { b'x' };
                let t = String::from_utf8(b).unwrap();
                assert_eq!(recognise(&t), None, "{t}");
            }
        }
        assert_eq!(compose(SecretKind::ApiToken, "short"), None);
        assert_eq!(compose(SecretKind::ApiToken, &"_".repeat(BODY_LEN)), None);
        assert_eq!(recognise("ceir_abc"), None);
        // The earlier `ceir_<id>_<secret>` form is not this shape.
        assert_eq!(
            recognise("ceir_abcdefghij_ABCDEFGHIJKLMNOPQRSTUVWXYZ01"),
            None
        );
    }

    /// A known value, so that a scanner written elsewhere can check itself against this one.
    #[test]
    fn checksum_is_crc32_in_base62() {
        // CRC32("123456789") is the standard check value 0xCBF43926.
        let c = checksum("123456789");
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        assert_eq!(&c, b"3jZRME");
    }
}
