//! Citizens' cases: a lost or stolen phone reported without an account, followed by a tracking
//! code and one-time codes sent to the contact the reporter gave.
//!
//! A citizen has no password: holding the case code and receiving a fresh one-time code at the
//! contact is what proves they reported it. The rules for those codes (lifetime, attempts, single
//! use, how often one may be sent) are pure functions here, so the store and tests apply the same
//! ones with an injected clock.

use crate::ids::{IdError, Msisdn};
use crate::lists::Country;
use crate::Timestamp;
use sha2::{Digest, Sha256};
use std::fmt;

/// The 32 characters of a case code: digits and capitals without 0, O, 1 and I, which people
/// confuse when they read a code aloud or copy it from an SMS.
pub const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Random characters in a case code (35 bits); an eighth is the check character.
pub const RANDOM_CHARS: usize = 7;

/// A case's tracking code, such as `AZ-7K3M-Q9XF`: the node's country, then seven random
/// characters and a check character that catches any single mistyped character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseCode {
    country: Country,
    /// Indexes into [`ALPHABET`]; the last is the check character.
    chars: [u8; 8],
}

fn alphabet_index(c: u8) -> Option<u8> {
    let c = c.to_ascii_uppercase();
    ALPHABET.iter().position(|a| *a == c).map(|i| i as u8)
}

/// The check value over the country letters and the random characters. Every weight is odd, so
/// it is invertible modulo 32: changing any one character (country letter included) changes the
/// sum, and so the expected check character.
fn check_index(country: Country, random: &[u8]) -> u8 {
    let mut sum: u32 = 0;
    let mut weight: u32 = 1;
    let letters = country
        .as_str()
        .bytes()
        .map(|b| u32::from(b.wrapping_sub(b'A') % 32));
    for v in letters.chain(random.iter().map(|v| u32::from(*v))) {
        sum = sum.wrapping_add(weight * v);
        weight += 2;
    }
    ((32 - sum % 32) % 32) as u8
}

impl CaseCode {
    /// A code from seven random values (each taken modulo 32); the caller supplies randomness so
    /// that this stays pure.
    pub fn from_random(country: Country, random: [u8; RANDOM_CHARS]) -> CaseCode {
        let mut chars = [0u8; 8];
        for (slot, r) in chars.iter_mut().zip(random) {
            *slot = r % 32;
        }
        chars[RANDOM_CHARS] = check_index(country, &chars[..RANDOM_CHARS]);
        CaseCode { country, chars }
    }

    /// Reads a code as a person types it: any case, with or without the two dashes.
    pub fn parse(s: &str) -> Result<CaseCode, IdError> {
        let bad = || IdError::Form {
            kind: "case code",
            expected: "two letters, then eight characters, such as AZ-7K3M-Q9XF",
        };
        let b = s.trim().as_bytes();
        let compact: Vec<u8> = match b.len() {
            12 if b[2] == b'-' && b[7] == b'-' => b[..2]
                .iter()
                .chain(&b[3..7])
                .chain(&b[8..])
                .copied()
                .collect(),
            10 => b.to_vec(),
            _ => return Err(bad()),
        };
        let country = std::str::from_utf8(&compact[..2])
            .ok()
            .and_then(|c| Country::parse(c).ok())
            .ok_or_else(bad)?;
        let mut chars = [0u8; 8];
        for (slot, c) in chars.iter_mut().zip(&compact[2..]) {
            *slot = alphabet_index(*c).ok_or_else(bad)?;
        }
        if check_index(country, &chars[..RANDOM_CHARS]) != chars[RANDOM_CHARS] {
            return Err(IdError::Invalid {
                kind: "case code",
                reason: "a character is mistyped (the check character does not match)".into(),
            });
        }
        Ok(CaseCode { country, chars })
    }

    pub fn country(&self) -> Country {
        self.country
    }
}

impl fmt::Display for CaseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |i: usize| char::from(ALPHABET[usize::from(self.chars[i] % 32)]);
        write!(
            f,
            "{}-{}{}{}{}-{}{}{}{}",
            self.country,
            c(0),
            c(1),
            c(2),
            c(3),
            c(4),
            c(5),
            c(6),
            c(7)
        )
    }
}

/// An e-mail address, in the plain `local@domain.tld` form that mail relays accept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Email, IdError> {
        let bad = |reason: &str| IdError::Invalid {
            kind: "e-mail address",
            reason: reason.into(),
        };
        let s = s.trim();
        if s.len() > 254 {
            return Err(bad("longer than 254 characters"));
        }
        let (local, domain) = s.split_once('@').ok_or_else(|| bad("no @"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(bad("the part before @ must have 1 to 64 characters"));
        }
        let local_ok = local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
        if !local_ok || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(bad("the part before @ has a character mail cannot carry"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let labels_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !labels_ok {
            return Err(bad("the domain must be a name such as mail.az"));
        }
        Ok(Email(format!("{local}@{}", domain.to_ascii_lowercase())))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a reporter receives one-time codes. Personal data: shown in full only to those who hold
/// `ReadSubscriberData`, never logged, never in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Contact {
    Email(Email),
    /// An E.164 number, for SMS.
    Phone(Msisdn),
}

/// How a message reaches a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

impl Contact {
    /// An address with `@` is an e-mail address; anything else must be an international phone
    /// number (`+` and the country code; spaces, dashes and brackets are ignored).
    pub fn parse(s: &str) -> Result<Contact, IdError> {
        let s = s.trim();
        if s.contains('@') {
            return Email::parse(s).map(Contact::Email);
        }
        let number: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .collect();
        if !number.starts_with('+') {
            return Err(IdError::Form {
                kind: "contact",
                expected: "an e-mail address, or a phone number with + and the country code",
            });
        }
        Msisdn::parse(&number).map(Contact::Phone)
    }
    pub fn channel(&self) -> Channel {
        match self {
            Contact::Email(_) => Channel::Email,
            Contact::Phone(_) => Channel::Sms,
        }
    }
    /// Enough for the reporter to recognise their own contact, too little to identify them:
    /// `a***@m***.az`, `+99450*****67`.
    pub fn masked(&self) -> String {
        match self {
            Contact::Email(e) => {
                let (local, domain) = e.0.split_once('@').unwrap_or((&e.0, ""));
                let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
                let tld = domain.rsplit('.').next().unwrap_or("");
                format!("{}***@{}***.{tld}", first(local), first(domain))
            }
            Contact::Phone(m) => {
                let d = m.to_string();
                let head = 5.min(d.len().saturating_sub(6));
                let tail = 2.min(d.len().saturating_sub(head));
                let stars = d.len() - head - tail;
                format!(
                    "+{}{}{}",
                    &d[..head],
                    "*".repeat(stars),
                    &d[d.len() - tail..]
                )
            }
        }
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Email(e) => f.write_str(&e.0),
            Contact::Phone(m) => write!(f, "+{m}"),
        }
    }
}

/// What the reporter says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseKind {
    Lost,
    Stolen,
}

impl CaseKind {
    pub const ALL: [CaseKind; 2] = [CaseKind::Lost, CaseKind::Stolen];
    pub const fn as_str(self) -> &'static str {
        match self {
            CaseKind::Lost => "lost",
            CaseKind::Stolen => "stolen",
        }
    }
    pub fn parse(s: &str) -> Option<CaseKind> {
        CaseKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a case stands. A report blocks nothing by itself: the police confirm it and block the
/// IMEI through the lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseState {
    Received,
    Confirmed,
    Closed,
}

impl CaseState {
    pub const ALL: [CaseState; 3] = [CaseState::Received, CaseState::Confirmed, CaseState::Closed];
    pub const fn as_str(self) -> &'static str {
        match self {
            CaseState::Received => "received",
            CaseState::Confirmed => "confirmed",
            CaseState::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<CaseState> {
        CaseState::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A one-time code lives this long after it is sent.
pub const OTP_TTL_MS: i64 = 10 * 60_000;
/// Wrong guesses a one-time code survives; the next use of it is refused whatever the code.
pub const OTP_MAX_ATTEMPTS: u32 = 5;
/// Codes sent for one case within [`OTP_SEND_WINDOW_MS`].
pub const OTP_MAX_SENDS: usize = 3;
pub const OTP_SEND_WINDOW_MS: i64 = 3_600_000;

/// A six-digit one-time code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OneTimeCode(u32);

impl fmt::Debug for OneTimeCode {
    /// Never printed: a code in a log line would let anyone reading the logs open the case.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode(******)")
    }
}

impl OneTimeCode {
    /// From a random number (taken modulo 10^6; the bias of a 32-bit source is below 2^-12).
    pub fn from_random(r: u32) -> OneTimeCode {
        OneTimeCode(r % 1_000_000)
    }
    /// Exactly six digits.
    pub fn parse(s: &str) -> Option<OneTimeCode> {
        let s = s.trim();
        (s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok().map(OneTimeCode))
            .flatten()
    }
    /// The digits, to put in the message and nowhere else.
    pub fn reveal(&self) -> String {
        format!("{:06}", self.0)
    }
    /// What the store keeps: SHA-256 over the case code and the digits, in hex. Bound to the case
    /// so that one stored digest says nothing about another case's code.
    pub fn digest(&self, case: &CaseCode) -> String {
        let mut h = Sha256::new();
        h.update(case.to_string().as_bytes());
        h.update(b":");
        h.update(self.reveal().as_bytes());
        hex::encode(h.finalize())
    }
}

/// The state of the current one-time code of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpState {
    pub expires_at: Timestamp,
    pub attempts: u32,
    pub used_at: Option<Timestamp>,
}

/// Why a one-time code can no longer be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpDead {
    Used,
    Expired,
    TooManyAttempts,
}

/// When a code sent at `sent_at` stops working.
pub const fn otp_expiry(sent_at: Timestamp) -> Timestamp {
    Timestamp(sent_at.0 + OTP_TTL_MS)
}

/// May this code still be tried at `now`? Its digits are compared only if so.
pub fn otp_usable(s: &OtpState, now: Timestamp) -> Result<(), OtpDead> {
    if s.used_at.is_some() {
        Err(OtpDead::Used)
    } else if now >= s.expires_at {
        Err(OtpDead::Expired)
    } else if s.attempts >= OTP_MAX_ATTEMPTS {
        Err(OtpDead::TooManyAttempts)
    } else {
        Ok(())
    }
}

/// May another code be sent at `now`, given when earlier ones were sent? `Err` holds the time
/// from which one may.
pub fn may_send(sent: &[Timestamp], now: Timestamp) -> Result<(), Timestamp> {
    let mut recent: Vec<Timestamp> = sent
        .iter()
        .copied()
        .filter(|t| t.0 > now.0 - OTP_SEND_WINDOW_MS && *t <= now)
        .collect();
    if recent.len() < OTP_MAX_SENDS {
        return Ok(());
    }
    recent.sort();
    // The oldest send that keeps the window full must leave it first.
    let k = recent.len() - OTP_MAX_SENDS;
    Err(Timestamp(recent[k].0 + OTP_SEND_WINDOW_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_in_any_case_with_or_without_dashes() {
        let c = CaseCode::from_random(Country::AZ, [0, 31, 5, 9, 17, 22, 3]);
        let s = c.to_string();
        assert_eq!(s.len(), 12);
        assert!(s.starts_with("AZ-"));
        assert_eq!(CaseCode::parse(&s).unwrap(), c);
        assert_eq!(CaseCode::parse(&s.to_ascii_lowercase()).unwrap(), c);
        assert_eq!(CaseCode::parse(&s.replace('-', "")).unwrap(), c);
        assert_eq!(CaseCode::parse(&format!(" {s} ")).unwrap(), c);
        for bad in ["", "AZ", "AZ-2345-678", "AZ-2345-67890", "A1-2345-6789"] {
            assert!(CaseCode::parse(bad).is_err(), "{bad}");
        }
        // Confusable characters are not in the alphabet.
        for c in ['0', 'O', '1', 'I'] {
            assert!(!ALPHABET.contains(&(c as u8)));
        }
    }

    #[test]
    fn contacts_are_parsed_and_masked() {
        let e = Contact::parse(" aysel.mammadova@Mail.AZ ").unwrap();
        assert_eq!(e.to_string(), "aysel.mammadova@mail.az");
        assert_eq!(e.masked(), "a***@m***.az");
        assert_eq!(e.channel(), Channel::Email);
        let p = Contact::parse("+994 50 123-45-67").unwrap();
        assert_eq!(p.to_string(), "+994501234567");
        assert_eq!(p.masked(), "+99450*****67");
        assert_eq!(p.channel(), Channel::Sms);
        for bad in [
            "",
            "nobody",
            "a@b",
            "@mail.az",
            "a b@mail.az",
            "a@@mail.az",
            "a@-x.az",
            "0501234567",
            "994501234567",
            "+0501234567",
            "+99450abc",
        ] {
            assert!(Contact::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn one_time_codes_expire_are_single_use_and_count_attempts() {
        let t0 = Timestamp(1_790_000_000_000);
        let live = OtpState {
            expires_at: otp_expiry(t0),
            attempts: 0,
            used_at: None,
        };
        assert_eq!(otp_usable(&live, t0), Ok(()));
        assert_eq!(otp_usable(&live, Timestamp(t0.0 + OTP_TTL_MS - 1)), Ok(()));
        assert_eq!(
            otp_usable(&live, Timestamp(t0.0 + OTP_TTL_MS)),
            Err(OtpDead::Expired)
        );
        let tried = OtpState {
            attempts: OTP_MAX_ATTEMPTS - 1,
            ..live
        };
        assert_eq!(otp_usable(&tried, t0), Ok(()));
        let tried = OtpState {
            attempts: OTP_MAX_ATTEMPTS,
            ..live
        };
        assert_eq!(otp_usable(&tried, t0), Err(OtpDead::TooManyAttempts));
        let used = OtpState {
            used_at: Some(t0),
            ..live
        };
        assert_eq!(otp_usable(&used, t0), Err(OtpDead::Used));

        assert_eq!(OneTimeCode::parse("012345").unwrap().reveal(), "012345");
        for bad in ["12345", "1234567", "12a456", "", "+12345"] {
            assert!(OneTimeCode::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(OneTimeCode::from_random(7).reveal(), "000007");
        assert_eq!(
            format!("{:?}", OneTimeCode::from_random(123_456)),
            "OneTimeCode(******)"
        );
        let a = CaseCode::from_random(Country::AZ, [1; 7]);
        let b = CaseCode::from_random(Country::AZ, [2; 7]);
        let otp = OneTimeCode::from_random(424_242);
        assert_ne!(otp.digest(&a), otp.digest(&b));
        assert_eq!(otp.digest(&a).len(), 64);
    }

    #[test]
    fn three_sends_an_hour() {
        let t0 = Timestamp(1_790_000_000_000);
        let at = |m: i64| Timestamp(t0.0 + m * 60_000);
        assert_eq!(may_send(&[], t0), Ok(()));
        assert_eq!(may_send(&[at(0), at(1)], at(2)), Ok(()));
        assert_eq!(may_send(&[at(0), at(1), at(2)], at(3)), Err(at(60)));
        assert_eq!(may_send(&[at(0), at(1), at(2)], at(60)), Ok(()));
        assert_eq!(may_send(&[at(0), at(30), at(59)], at(61)), Ok(()));
        assert_eq!(
            may_send(&[at(10), at(20), at(30), at(40)], at(45)),
            Err(at(80))
        );
    }
}
