//! The error vocabulary every transport shares: one [`Code`] per kind of failure a client can see, its wire
//! string and its HTTP status. Knows nothing of GraphQL or HTTP routing (`graphql::errors` and `http/*`
//! use it).

use axum::http::StatusCode;

/// The `extensions.code` (GraphQL) or error kind (REST) of a failure, as clients see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// The thing asked for does not exist (or the caller may not know it does).
    NotFound,
    /// An argument or input value is invalid.
    BadUserInput,
    /// No valid credentials.
    Unauthenticated,
    /// Valid credentials without the scope or ownership needed.
    Forbidden,
    /// The write clashes with what exists (a unique key, a state transition).
    Conflict,
    /// The server failed; the cause is logged with a request id, never sent.
    Internal,
    /// The caller's token bucket is empty (`Retry-After` says when to come back).
    RateLimited,
    /// The request (or one operation of a batch, or the body read) ran out of time.
    Timeout,
    /// The HTTP request itself is malformed (media type, body, parameters, batch size, APQ extension).
    BadRequest,
    /// APQ: the hash is unknown; the client sends the query with it once.
    PersistedQueryNotFound,
    /// The document does not parse or does not validate against the schema.
    GraphqlValidationFailed,
    /// The query reads more list items than the per-operation budget.
    ComplexityLimit,
    /// A list was cut at its limit (the data is still returned).
    ListTruncated,
    /// The serialised response is larger than `server.maxResponseBytes`.
    ResponseTooLarge,
    /// A WebSocket connection already runs as many subscriptions as it may.
    TooManySubscriptions,
}

impl Code {
    /// Every code, for tests and documentation.
    pub const ALL: [Code; 15] = [
        Code::NotFound,
        Code::BadUserInput,
        Code::Unauthenticated,
        Code::Forbidden,
        Code::Conflict,
        Code::Internal,
        Code::RateLimited,
        Code::Timeout,
        Code::BadRequest,
        Code::PersistedQueryNotFound,
        Code::GraphqlValidationFailed,
        Code::ComplexityLimit,
        Code::ListTruncated,
        Code::ResponseTooLarge,
        Code::TooManySubscriptions,
    ];

    /// The string sent on the wire (`extensions.code`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::NotFound => "NOT_FOUND",
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::Conflict => "CONFLICT",
            Code::Internal => "INTERNAL",
            Code::RateLimited => "RATE_LIMITED",
            Code::Timeout => "TIMEOUT",
            Code::BadRequest => "BAD_REQUEST",
            Code::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Code::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Code::ComplexityLimit => "COMPLEXITY_LIMIT",
            Code::ListTruncated => "LIST_TRUNCATED",
            Code::ResponseTooLarge => "RESPONSE_TOO_LARGE",
            Code::TooManySubscriptions => "TOO_MANY_SUBSCRIPTIONS",
        }
    }

    /// The code a wire string names, if any.
    pub fn parse(wire: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == wire)
    }

    /// The HTTP status of a response that fails with this code: the one place a status is derived from a
    /// code. (GraphQL over HTTP answers an executed operation with 200 whatever its field errors, and
    /// `application/json` clients get 200 for request errors; the transport applies those rules.)
    /// `PERSISTED_QUERY_NOT_FOUND` is a 200, as Apollo's clients expect before they resend the query.
    pub const fn status(self) -> StatusCode {
        match self {
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::BadUserInput
            | Code::BadRequest
            | Code::GraphqlValidationFailed
            | Code::ComplexityLimit
            | Code::ResponseTooLarge => StatusCode::BAD_REQUEST,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::Forbidden => StatusCode::FORBIDDEN,
            Code::Conflict => StatusCode::CONFLICT,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::RateLimited | Code::TooManySubscriptions => StatusCode::TOO_MANY_REQUESTS,
            Code::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            Code::PersistedQueryNotFound | Code::ListTruncated => StatusCode::OK,
        }
    }

    /// True for the codes that refuse the caller rather than the request (401, 403): a response whose data
    /// is all gone for one of them takes its status.
    pub const fn is_refusal(self) -> bool {
        matches!(self, Code::Unauthenticated | Code::Forbidden)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_has_its_wire_string_and_status() {
        let table = [
            (Code::NotFound, "NOT_FOUND", 404),
            (Code::BadUserInput, "BAD_USER_INPUT", 400),
            (Code::Unauthenticated, "UNAUTHENTICATED", 401),
            (Code::Forbidden, "FORBIDDEN", 403),
            (Code::Conflict, "CONFLICT", 409),
            (Code::Internal, "INTERNAL", 500),
            (Code::RateLimited, "RATE_LIMITED", 429),
            (Code::Timeout, "TIMEOUT", 503),
            (Code::BadRequest, "BAD_REQUEST", 400),
            (
                Code::PersistedQueryNotFound,
                "PERSISTED_QUERY_NOT_FOUND",
                200,
            ),
            (
                Code::GraphqlValidationFailed,
                "GRAPHQL_VALIDATION_FAILED",
                400,
            ),
            (Code::ComplexityLimit, "COMPLEXITY_LIMIT", 400),
            (Code::ListTruncated, "LIST_TRUNCATED", 200),
            (Code::ResponseTooLarge, "RESPONSE_TOO_LARGE", 400),
            (Code::TooManySubscriptions, "TOO_MANY_SUBSCRIPTIONS", 429),
        ];
        assert_eq!(table.len(), Code::ALL.len());
        for (code, wire, status) in table {
            assert_eq!(code.as_str(), wire);
            assert_eq!(code.to_string(), wire);
            assert_eq!(code.status().as_u16(), status, "{wire}");
            assert_eq!(Code::parse(wire), Some(code));
        }
        assert_eq!(Code::parse("SOMETHING_ELSE"), None);
    }

    #[test]
    fn only_caller_refusals_are_refusals() {
        let refusals: Vec<Code> = Code::ALL.into_iter().filter(|c| c.is_refusal()).collect();
        assert_eq!(refusals, [Code::Unauthenticated, Code::Forbidden]);
    }
}
