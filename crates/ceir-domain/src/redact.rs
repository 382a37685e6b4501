//! Redaction of personal data and secrets from free text, applied to every log line.
//!
//! Structured fields are chosen not to carry subscriber identifiers, but error messages from
//! databases and libraries can echo values back (a PostgreSQL constraint error quotes the key).
//! So the log writer passes each line through [`redact`], which masks what could identify a
//! subscriber or grant access, whoever wrote it:
//!
//! - runs of 9 or more digits (IMSI, MSISDN in E.164 or national form, IMEI, IMEISV): every
//!   digit becomes `*`, so the shape stays readable and nothing of the value is left;
//! - e-mail addresses (a reporter's contact): replaced by `<email>`;
//! - API token secrets (`ceir_` followed by 8 or more token characters): the secret part is
//!   replaced by `<secret>`.
//!
//! Shorter numbers (ports, counts, milliseconds, MCC-MNC) are left alone.

use std::borrow::Cow;

/// The shortest digit run that is masked. Nine is below the shortest national MSISDN of either
/// country (nine digits) and every IMSI or IMEI, and above the counts and timings logs carry.
pub const MIN_MASKED_DIGITS: usize = 9;

const TOKEN_PREFIX: &[u8] = b"ceir_";

/// Masks personal data and secrets in `line`; borrows when there is nothing to mask.
pub fn redact(line: &str) -> Cow<'_, str> {
    if !needs_redaction(line) {
        return Cow::Borrowed(line);
    }
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    // Start of the text not yet copied to `out`.
    let mut copied = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            let end = run_end(b, i, |c| c.is_ascii_digit());
            if end - i >= MIN_MASKED_DIGITS {
                out.push_str(&line[copied..i]);
                out.extend(std::iter::repeat_n('*', end - i));
                copied = end;
            }
            i = end;
        } else if c == b'@' {
            let start = run_start(b, i, is_email_local);
            let end = run_end(b, i + 1, is_email_domain);
            let domain = &b[i + 1..end];
            if start < i && domain.contains(&b'.') && start >= copied {
                out.push_str(&line[copied..start]);
                out.push_str("<email>");
                copied = end;
                i = end;
            } else {
                i += 1;
            }
        } else if b[i..].starts_with(TOKEN_PREFIX) && (i == 0 || !is_token_char(b[i - 1])) {
            let secret_start = i + TOKEN_PREFIX.len();
            let end = run_end(b, secret_start, is_token_char);
            if end - secret_start >= 8 {
                out.push_str(&line[copied..secret_start]);
                out.push_str("<secret>");
                copied = end;
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out.push_str(&line[copied..]);
    Cow::Owned(out)
}

/// A cheap pre-scan, so that the common line (no long number, no address, no token) is not copied.
fn needs_redaction(line: &str) -> bool {
    let b = line.as_bytes();
    let mut digits = 0;
    for &c in b {
        if c.is_ascii_digit() {
            digits += 1;
            if digits >= MIN_MASKED_DIGITS {
                return true;
            }
        } else {
            digits = 0;
            if c == b'@' {
                return true;
            }
        }
    }
    line.contains("ceir_")
}

fn run_end(b: &[u8], from: usize, pred: impl Fn(u8) -> bool) -> usize {
    b.get(from..)
        .and_then(|rest| rest.iter().position(|&c| !pred(c)))
        .map_or(b.len(), |p| from + p)
}

fn run_start(b: &[u8], at: usize, pred: impl Fn(u8) -> bool) -> usize {
    b[..at].iter().rposition(|&c| !pred(c)).map_or(0, |p| p + 1)
}

fn is_email_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&c)
}

fn is_email_domain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'-'
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn masks_subscriber_identifiers_contacts_and_secrets() {
        let cases = [
            (
                "duplicate key (imsi)=(400011234567890) already exists",
                "duplicate key (imsi)=(***************) already exists",
            ),
            ("supi=imsi-434051234567890", "supi=imsi-***************"),
            ("call +994501234567 now", "call +************ now"),
            (
                "reporter anna.k+lost@mail.example.az wrote",
                "reporter <email> wrote",
            ),
            (
                "Bearer ceir_AbCdEf0123456789xyz failed",
                "Bearer ceir_<secret> failed",
            ),
            ("pei=imei-490154203237518", "pei=imei-***************"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "input {input:?}");
        }
    }

    #[test]
    fn leaves_ordinary_log_lines_untouched() {
        for line in [
            "request_id=7f3a status=200 elapsed_ms=0.41 route=/api/v1/devices/{imei}",
            "listening on 127.0.0.1:8080 with store sqlite:/var/lib/ceir/ceir.db",
            "lifted expired entries expired=12345678 plmn=400-01",
            "user@ without a domain, and ceir_short",
        ] {
            assert_eq!(redact(line), line);
        }
    }

    proptest! {
        /// Whatever the text, no run of 9+ digits survives, and text without one is unchanged.
        #[test]
        fn no_long_digit_run_survives(s in "[a-z0-9 =+@._-]{0,80}") {
            let r = redact(&s);
            let mut run = 0;
            for c in r.chars() {
                run = if c.is_ascii_digit() { run + 1 } else { 0 };
                prop_assert!(run < MIN_MASKED_DIGITS, "{r:?} from {s:?}");
            }
        }

        /// A subscriber identifier embedded anywhere is gone from the output.
        #[test]
        fn embedded_imsi_is_masked(pre in "[a-z =(]{0,20}", imsi in "[0-9]{15}", post in "[a-z )]{0,20}") {
            let line = format!("{pre}{imsi}{post}");
            let r = redact(&line);
            prop_assert!(!r.contains(&imsi));
            prop_assert_eq!(r.len(), line.len());
        }
    }
}
