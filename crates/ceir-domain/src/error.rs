//! The one registry of stable error codes. HTTP status mapping lives in one place in `ceir-http`;
//! the CLI prints the same codes with a hint.

/// A stable, machine-readable error code. Never renumber or rename: clients match on these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// An identifier (IMEI, TAC, IMSI, PEI, …) could not be interpreted.
    InvalidIdentifier,
    /// A typed IMEI whose Luhn check digit is wrong.
    ImeiCheckDigit,
    /// A request field other than an identifier is malformed or missing.
    InvalidRequest,
    /// An input file is malformed (file, line, field, value and reason are given).
    InvalidInput,
    /// The thing asked for does not exist.
    NotFound,
    /// N5g-eir: the equipment is on no list and the node answers only for listed devices.
    EquipmentUnknown,
    /// No or bad credentials.
    Unauthenticated,
    /// Authenticated, but the capability is missing.
    Forbidden,
    /// Only the organisation that placed an entry, or a regulator, may lift it.
    NotOwner,
    /// The change conflicts with the current state (already listed, already removed, …).
    Conflict,
    /// A bulk change was refused by a safety threshold; repeat with force if intended.
    SafetyStop,
    /// The request body is too large.
    PayloadTooLarge,
    /// The store is unreachable or failed.
    StoreUnavailable,
    /// A bug: logged with the request id.
    Internal,
    /// TS 29.500: a mandatory query parameter is malformed (N5g-eir `pei`).
    MandatoryQueryParamIncorrect,
    /// TS 29.500: a mandatory query parameter is missing.
    MandatoryQueryParamMissing,
    /// TS 29.500: an optional query parameter is malformed (`supi`, `gpsi`, …).
    InvalidQueryParam,
    /// Sign-in refused. Deliberately one code for an unknown user, a wrong password or code, and
    /// a locked or disabled account, so that answers do not reveal which accounts exist.
    SignInFailed,
    /// Too many requests from this client; `Retry-After` says when to try again.
    RateLimited,
    /// A cookie-authenticated change without the session's CSRF token or from another origin.
    CsrfRejected,
    /// A citizen's one-time code is missing, wrong, expired, used up, or names no case. One code
    /// for all of these, so that the answer does not tell whether a case exists.
    OneTimeCodeRefused,
    /// One-time codes cannot be sent: this node has no delivery (outbox) configured.
    DeliveryUnavailable,
}

impl ErrorCode {
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidIdentifier,
        ErrorCode::ImeiCheckDigit,
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidInput,
        ErrorCode::NotFound,
        ErrorCode::EquipmentUnknown,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotOwner,
        ErrorCode::Conflict,
        ErrorCode::SafetyStop,
        ErrorCode::PayloadTooLarge,
        ErrorCode::StoreUnavailable,
        ErrorCode::Internal,
        ErrorCode::MandatoryQueryParamIncorrect,
        ErrorCode::MandatoryQueryParamMissing,
        ErrorCode::InvalidQueryParam,
        ErrorCode::SignInFailed,
        ErrorCode::RateLimited,
        ErrorCode::CsrfRejected,
        ErrorCode::OneTimeCodeRefused,
        ErrorCode::DeliveryUnavailable,
    ];

    /// The stable code string, used as the `cause` of problem+json and in CLI messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidIdentifier => "INVALID_IDENTIFIER",
            ErrorCode::ImeiCheckDigit => "IMEI_CHECK_DIGIT",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::InvalidInput => "INVALID_INPUT",
            ErrorCode::NotFound => "NOT_FOUND",
            // TS 29.511 names this cause.
            ErrorCode::EquipmentUnknown => "ERROR_EQUIPMENT_UNKNOWN",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotOwner => "NOT_OWNER",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::SafetyStop => "SAFETY_STOP",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::StoreUnavailable => "STORE_UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::MandatoryQueryParamIncorrect => "MANDATORY_QUERY_PARAM_INCORRECT",
            ErrorCode::MandatoryQueryParamMissing => "MANDATORY_QUERY_PARAM_MISSING",
            ErrorCode::InvalidQueryParam => "INVALID_QUERY_PARAM",
            ErrorCode::SignInFailed => "SIGN_IN_FAILED",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::CsrfRejected => "CSRF_REJECTED",
            ErrorCode::OneTimeCodeRefused => "ONE_TIME_CODE_REFUSED",
            ErrorCode::DeliveryUnavailable => "DELIVERY_UNAVAILABLE",
        }
    }

    /// What a person should do about it.
    pub const fn hint(self) -> &'static str {
        match self {
            ErrorCode::InvalidIdentifier => "check the identifier's digits and form",
            ErrorCode::ImeiCheckDigit => {
                "re-read the IMEI (dial *#06# or look on the box): one digit is likely mistyped"
            }
            ErrorCode::InvalidRequest => "correct the named field and repeat the request",
            ErrorCode::InvalidInput => {
                "fix the named line of the file and import it again; nothing was changed"
            }
            ErrorCode::NotFound => "check the identifier; nothing is recorded under it",
            ErrorCode::EquipmentUnknown => "the device is on no list of this node",
            ErrorCode::Unauthenticated => "give a valid API token (Authorization: Bearer ceir_…)",
            ErrorCode::Forbidden => {
                "ask your organisation's administrator or the regulator for this right"
            }
            ErrorCode::NotOwner => {
                "ask the organisation that placed the entry, or the regulator, to lift it"
            }
            ErrorCode::Conflict => "reload the current state and decide again",
            ErrorCode::SafetyStop => {
                "review the input; repeat with --force if the change is intended"
            }
            ErrorCode::PayloadTooLarge => "send the data in smaller parts or use the file import",
            ErrorCode::StoreUnavailable => "check that the database is reachable, then retry",
            ErrorCode::Internal => "report this with the request id",
            ErrorCode::MandatoryQueryParamIncorrect | ErrorCode::InvalidQueryParam => {
                "correct the parameter named in invalidParams"
            }
            ErrorCode::MandatoryQueryParamMissing => "add the parameter named in invalidParams",
            ErrorCode::SignInFailed => {
                "check the organisation, user name, password and code; after repeated failures \
                 the account is locked for a while"
            }
            ErrorCode::RateLimited => "wait for the time given in Retry-After, then retry",
            ErrorCode::CsrfRejected => {
                "send the X-CSRF-Token given at sign-in (GET /auth/me) from this site's own pages"
            }
            ErrorCode::OneTimeCodeRefused => {
                "check the case code, then ask for a new one-time code and use it within 10 minutes"
            }
            ErrorCode::DeliveryUnavailable => {
                "this node cannot send codes yet; ask its operator to configure outbox_dir"
            }
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_upper_snake() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate {c}");
            assert!(c
                .as_str()
                .chars()
                .all(|ch| ch.is_ascii_uppercase() || ch == '_'));
            assert!(!c.hint().is_empty());
        }
    }
}
