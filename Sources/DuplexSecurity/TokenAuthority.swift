import Crypto
import DuplexCore
import Foundation
import JWTKit

/// Mints and verifies short-lived access tokens (JWT): HS256 with the shared secret
/// (`security.token_secret`, or a random one per process), and ES256 tokens signed by an
/// operator's service whose public key is `security.token_public_key`.
///
/// A page can then be handed a token that expires instead of a key that does not.
/// Expiry is checked against the injected `now`, so tests need no waiting.
public struct TokenAuthority: Sendable {
    /// The claims of a Duplex access token.
    struct Claims: JWTPayload {
        /// Who the token was issued for (the key identity, or the operator's subject).
        var sub: SubjectClaim
        /// Expiry (required).
        var exp: ExpirationClaim
        /// Issue time.
        var iat: IssuedAtClaim?

        /// Signature checks only: expiry is checked by ``TokenAuthority`` on its own clock.
        func verify(using algorithm: some JWTAlgorithm) throws {}
    }

    private let keys: JWTKeyCollection
    private let maxLifetime: Int
    private let now: @Sendable () -> Date

    /// Creates the authority.
    /// - Parameters:
    ///   - secret: the HS256 secret, at least 32 bytes; empty picks a random one (tokens die
    ///     with the process).
    ///   - publicKeyPEM: an ES256 public key whose tokens are accepted too (nil: none).
    ///   - maxLifetimeSeconds: the longest lifetime ``mint(for:lifetimeSeconds:)`` grants.
    ///   - now: the clock expiry is checked against.
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) for an unreadable public key.
    public init(
        secret: String, publicKeyPEM: String? = nil, maxLifetimeSeconds: Int,
        now: @escaping @Sendable () -> Date = { Date() }
    ) async throws(DuplexError) {
        guard secret.isEmpty || secret.utf8.count >= 32 else {
            throw DuplexError(
                .invalidConfiguration,
                "security.token_secret must be at least 32 bytes (HS256 needs a key as long as its hash); `duplex security new-key` prints a suitable one.")
        }
        let keys = JWTKeyCollection()
        let secretBytes = secret.isEmpty ? SymmetricKey(size: .bits256) : SymmetricKey(data: Data(secret.utf8))
        await keys.add(hmac: HMACKey(key: secretBytes), digestAlgorithm: .sha256, kid: "duplex")
        if let publicKeyPEM {
            do {
                await keys.add(ecdsa: try ES256PublicKey(pem: publicKeyPEM), kid: "operator")
            } catch {
                throw DuplexError(.invalidConfiguration, "security.token_public_key is not a P-256 public key in PEM form: \(error)", cause: error)
            }
        }
        self.keys = keys
        self.maxLifetime = maxLifetimeSeconds
        self.now = now
    }

    /// A token for `subject`, valid for `lifetimeSeconds` (at most the configured maximum).
    public func mint(for subject: String, lifetimeSeconds: Int? = nil) async throws(DuplexError) -> (token: String, expiresAt: Date) {
        let lifetime = min(max(1, lifetimeSeconds ?? maxLifetime), maxLifetime)
        let issued = now()
        let expires = issued.addingTimeInterval(TimeInterval(lifetime))
        let claims = Claims(sub: SubjectClaim(value: subject), exp: ExpirationClaim(value: expires), iat: IssuedAtClaim(value: issued))
        do {
            return (try await keys.sign(claims, kid: "duplex"), expires)
        } catch {
            throw DuplexError(.internal, "Could not sign a token.", cause: error)
        }
    }

    /// The subject of a valid, unexpired token.
    /// - Throws: ``AuthFailure`` saying why the token was refused.
    public func verify(_ token: String) async throws(AuthFailure) -> String {
        let claims: Claims
        do {
            claims = try await keys.verify(token, as: Claims.self, iteratingKeys: true)
        } catch {
            throw .invalidToken
        }
        guard claims.exp.value > now() else { throw .expiredToken }
        return claims.sub.value
    }
}
