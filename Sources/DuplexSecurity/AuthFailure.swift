import DuplexCore

/// Why a request was refused. Each case converts to a ``DuplexError`` whose message says
/// what to do; none of them ever contains the credential that was presented.
public enum AuthFailure: Error, Sendable, Hashable {
    /// No key or token was presented.
    case missingCredentials
    /// The key is not one of the configured keys.
    case invalidKey
    /// The token's signature, format or claims are not valid.
    case invalidToken
    /// The token has expired.
    case expiredToken
    /// The request's `Origin` is not allowed (`security.allowed_origins`).
    case forbiddenOrigin(String)

    /// Whether the refusal is 403 (an origin) rather than 401 (credentials).
    public var isForbidden: Bool {
        if case .forbiddenOrigin = self { return true }
        return false
    }

    /// The error in Duplex's shape (`UNAUTHORIZED` or `FORBIDDEN`).
    public var error: DuplexError {
        switch self {
        case .missingCredentials:
            DuplexError(.unauthorized, "This server requires an API key: send `Authorization: Bearer <key>` or `?token=<key or access token>`.")
        case .invalidKey:
            DuplexError(.unauthorized, "The API key is not valid for this server.")
        case .invalidToken:
            DuplexError(.unauthorized, "The access token is not valid (bad signature or format); get a new one from POST /v1/auth/token.")
        case .expiredToken:
            DuplexError(.unauthorized, "The access token has expired; get a new one from POST /v1/auth/token.")
        case .forbiddenOrigin(let origin):
            DuplexError(.forbidden, "Requests from the origin '\(origin)' are not allowed; add it to security.allowed_origins.")
        }
    }
}
