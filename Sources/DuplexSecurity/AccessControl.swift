import DuplexConfig
import DuplexCore
import Foundation

/// Who a request comes from, once it passed ``AccessControl``.
public enum Principal: Sendable, Hashable, CustomStringConvertible {
    /// No key is configured: the server is open (loopback only, unless `insecure_public`).
    case open
    /// One of the configured API keys.
    case key(KeyIdentity)
    /// An access token; its subject (a key identity for tokens this server minted).
    case token(subject: String)

    /// The key whose budget (`quotas:`) the principal draws on: its key's label, the subject
    /// of a token (for tokens minted here, the key it was minted for), or `open`.
    public var account: String {
        switch self {
        case .open: "open"
        case .key(let identity): identity.id
        case .token(let subject): subject
        }
    }

    /// A label safe for logs and metrics (`open`, `key-1a2b3c4d`, `token:key-1a2b3c4d`).
    public var description: String {
        switch self {
        case .open: "open"
        case .key(let identity): identity.id
        case .token(let subject): "token:\(subject)"
        }
    }
}

/// The server's access rules: API keys, access tokens and the origin policy, from the
/// `security:` section. Transport adapters ask it about each request before serving it.
///
/// ```swift
/// let access = try await AccessControl(configuration.security)
/// let principal = try await access.authenticate(authorization: "Bearer dpx_…", queryToken: nil)
/// ```
public struct AccessControl: Sendable {
    /// The configured keys (empty: authentication off).
    public let keys: APIKeyStore
    /// Mints and verifies access tokens.
    public let tokens: TokenAuthority
    /// Which browser origins are allowed.
    public let origins: OriginPolicy
    /// Whether `/metrics` needs credentials.
    public let metricsRequireKey: Bool

    /// Builds the rules from `security:`.
    /// - Parameter now: the clock token expiry is checked against.
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) naming the bad key.
    public init(_ section: SecuritySection, now: @escaping @Sendable () -> Date = { Date() }) async throws(DuplexError) {
        keys = try APIKeyStore(keys: section.apiKeys)
        var publicKey: String?
        if !section.tokenPublicKey.isEmpty {
            do {
                publicKey = try String(contentsOfFile: section.tokenPublicKey, encoding: .utf8)
            } catch {
                throw DuplexError(.invalidConfiguration, "Cannot read security.token_public_key '\(section.tokenPublicKey)': \(error.localizedDescription)", cause: error)
            }
        }
        tokens = try await TokenAuthority(
            secret: section.tokenSecret, publicKeyPEM: publicKey, maxLifetimeSeconds: section.tokenTTLSeconds, now: now)
        origins = OriginPolicy(allowed: section.allowedOrigins)
        metricsRequireKey = section.metricsRequireKey
    }

    /// Whether clients must present a key or token.
    public var isEnabled: Bool { !keys.isEmpty }

    /// Checks the credentials of a request: an `Authorization: Bearer` header or a `token`
    /// query parameter, each holding an API key or an access token.
    /// - Throws: ``AuthFailure`` when authentication is on and they are missing or invalid.
    public func authenticate(authorization: String?, queryToken: String?) async throws(AuthFailure) -> Principal {
        guard isEnabled else { return .open }
        guard let credential = Self.bearer(authorization) ?? queryToken.flatMap({ $0.isEmpty ? nil : $0 }) else {
            throw .missingCredentials
        }
        if let identity = keys.match(credential) { return .key(identity) }
        // Not a key: a JWT has three dot-separated parts.
        guard credential.utf8.lazy.filter({ $0 == UInt8(ascii: ".") }).count == 2 else { throw .invalidKey }
        return .token(subject: try await tokens.verify(credential))
    }

    /// The credential in `Bearer <credential>` (the scheme is case-insensitive).
    static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " else { return nil }
        let credential = trimmed.dropFirst(7).trimmingCharacters(in: .whitespaces)
        return credential.isEmpty ? nil : credential
    }
}
