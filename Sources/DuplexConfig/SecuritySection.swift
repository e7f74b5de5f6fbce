import DuplexCore

/// `security:` — who may use the server: API keys, signed access tokens and the browser
/// origins allowed to drive it (docs/SECURITY.md).
///
/// With no key configured the server is open to whoever reaches it, so it then binds to
/// loopback only unless ``insecurePublic`` is set.
public struct SecuritySection: Sendable, Hashable {
    /// API keys, each `sha256:<64 hex digits>` (the hash `duplex security hash-key` prints;
    /// the form to keep in a file) or the key itself (hashed when loaded; for the
    /// `DUPLEX_SECURITY_API_KEYS` variable and `--api-key`). Default none: no authentication.
    public var apiKeys: [String] = []
    /// Shared secret for HS256 access tokens (`POST /v1/auth/token`, or minted by an
    /// operator's own service). Empty: a random secret per process, so tokens minted by this
    /// server work until it restarts. Default empty.
    public var tokenSecret = ""
    /// PEM file of an ES256 (P-256) public key: tokens signed with its private key by an
    /// operator's service are accepted too. Default empty (none).
    public var tokenPublicKey = ""
    /// Lifetime of tokens minted by `POST /v1/auth/token`, seconds (a request may ask for
    /// less). Default 600.
    public var tokenTTLSeconds = 600
    /// Browser origins (`scheme://host[:port]`) allowed to open WebSockets and make CORS
    /// requests, besides the server's own origin and `http(s)://localhost|127.0.0.1|[::1]`
    /// on any port; `*` allows every origin. Default none.
    public var allowedOrigins: [String] = []
    /// `/metrics` requires a key or token too. Default false.
    public var metricsRequireKey = false
    /// Serve a non-loopback address without any API key. Default false: without keys the
    /// server binds to 127.0.0.1 whatever `server.host` says, and says so at start.
    public var insecurePublic = false
    /// Shared token on the worker links: a worker with one refuses gRPC calls that do not
    /// carry `authorization: Bearer <token>` (`UNAUTHENTICATED`), and the orchestrator and the
    /// CLI send it. At least 16 characters. Default empty (workers serve any caller).
    public var workerToken = ""

    /// The defaults.
    public init() {}

    /// Whether clients must authenticate.
    public var requiresAuthentication: Bool { !apiKeys.isEmpty }

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "api_keys": apiKeys = try f.list(allowed: nil)
        case "token_secret": tokenSecret = f.value.trimmingWhitespace()
        case "token_public_key": tokenPublicKey = f.value.trimmingWhitespace()
        case "token_ttl_s": tokenTTLSeconds = try f.int(10...86_400)
        case "allowed_origins": allowedOrigins = try f.list(allowed: nil)
        case "metrics_require_key": metricsRequireKey = try f.bool()
        case "insecure_public": insecurePublic = try f.bool()
        case "worker_token":
            workerToken = f.value.trimmingWhitespace()
            if !workerToken.isEmpty, workerToken.utf8.count < 16 { throw f.invalid("a worker token needs at least 16 characters") }
        default: throw f.unknownKey()
        }
    }
}

/// A value that must never be printed: its description is a placeholder.
extension SecuritySection: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String {
        "SecuritySection(api_keys: \(apiKeys.count) configured, token_secret: \(tokenSecret.isEmpty ? "random" : "set"), worker_token: \(workerToken.isEmpty ? "none" : "set"), allowed_origins: \(allowedOrigins))"
    }
    public var debugDescription: String { description }
}
