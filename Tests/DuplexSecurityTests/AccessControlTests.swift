import DuplexConfig
import DuplexCore
import DuplexSecurity
import Foundation
import Synchronization
import Testing

/// API keys, access tokens and the origin policy as pure units (tokens on an injected clock).
@Suite struct AccessControlTests {
    static let key = "dpx_test-key-0123456789abcdef"

    /// A clock tests move by hand.
    final class TestClock: Sendable {
        private let current = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        var now: Date { current.withLock { $0 } }
        func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    static func section(keys: [String] = [key], secret: String = "a shared secret of enough length for HS256") -> SecuritySection {
        var section = SecuritySection()
        section.apiKeys = keys
        section.tokenSecret = secret
        section.tokenTTLSeconds = 600
        return section
    }

    @Test func aKeyMatchesInPlainOrHashedFormAndNothingElseDoes() throws {
        let hashed = try APIKeyStore(keys: [APIKeyStore.hash(Self.key)])
        let plain = try APIKeyStore(keys: [Self.key])
        #expect(hashed.match(Self.key) != nil)
        #expect(hashed.match(Self.key) == plain.match(Self.key))
        #expect(hashed.match(Self.key + "x") == nil)
        #expect(hashed.match("") == nil)
        #expect(hashed.match(String(Self.key.dropLast())) == nil)
        // The identity is a prefix of the hash: loggable, never the key.
        let identity = try #require(hashed.match(Self.key))
        #expect(identity.id.hasPrefix("key-") && identity.id.count == 12)
        #expect(!identity.id.contains(Self.key))
        #expect(APIKeyStore.hash(Self.key).hasPrefix("sha256:") && APIKeyStore.hash(Self.key).count == 71)
    }

    @Test func twoKeysHaveDistinctIdentities() throws {
        let other = "dpx_another-key-fedcba9876543210"
        let store = try APIKeyStore(keys: [Self.key, APIKeyStore.hash(other), Self.key])
        #expect(store.count == 2)
        #expect(store.match(Self.key) != store.match(other))
        #expect(store.match(other) != nil)
    }

    @Test(arguments: ["sha256:abc", "sha256:" + String(repeating: "g", count: 64), "tiny-value"])
    func malformedKeysAreRefusedNamingTheKeyButNotTheValue(_ entry: String) {
        #expect {
            try APIKeyStore(keys: [entry])
        } throws: { error in
            guard let error = error as? DuplexError else { return false }
            return error.code == .invalidConfiguration && error.message.contains("security.api_keys") && !error.message.contains(entry)
        }
    }

    @Test func generatedKeysAreLongRandomAndURLSafe() {
        let a = APIKeyStore.generateKey()
        let b = APIKeyStore.generateKey()
        #expect(a != b)
        #expect(a.count >= 40)
        #expect(a.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
    }

    @Test func credentialsComeFromTheBearerHeaderOrTheQuery() async throws {
        let access = try await AccessControl(Self.section())
        #expect(try await access.authenticate(authorization: "Bearer \(Self.key)", queryToken: nil) != .open)
        #expect(try await access.authenticate(authorization: "bearer  \(Self.key) ", queryToken: nil) != .open)
        #expect(try await access.authenticate(authorization: nil, queryToken: Self.key) != .open)
        await #expect(throws: AuthFailure.missingCredentials) { try await access.authenticate(authorization: nil, queryToken: nil) }
        await #expect(throws: AuthFailure.missingCredentials) { try await access.authenticate(authorization: "Basic abc", queryToken: "") }
        await #expect(throws: AuthFailure.invalidKey) { try await access.authenticate(authorization: "Bearer wrong-key", queryToken: nil) }
        await #expect(throws: AuthFailure.invalidToken) { try await access.authenticate(authorization: nil, queryToken: "a.b.c") }
    }

    @Test func withoutKeysEveryRequestIsOpen() async throws {
        let access = try await AccessControl(Self.section(keys: []))
        #expect(!access.isEnabled)
        #expect(try await access.authenticate(authorization: nil, queryToken: nil) == .open)
    }

    @Test func aMintedTokenWorksUntilItExpires() async throws {
        let clock = TestClock()
        let access = try await AccessControl(Self.section(), now: { clock.now })
        let minted = try await access.tokens.mint(for: "key-1234abcd", lifetimeSeconds: 60)
        #expect(minted.expiresAt == clock.now.addingTimeInterval(60))
        #expect(try await access.authenticate(authorization: "Bearer \(minted.token)", queryToken: nil) == .token(subject: "key-1234abcd"))
        clock.advance(59)
        #expect(try await access.authenticate(authorization: nil, queryToken: minted.token) == .token(subject: "key-1234abcd"))
        clock.advance(2)
        await #expect(throws: AuthFailure.expiredToken) { try await access.authenticate(authorization: nil, queryToken: minted.token) }
    }

    @Test func lifetimesAreCappedAtTheConfiguredMaximum() async throws {
        let clock = TestClock()
        let access = try await AccessControl(Self.section(), now: { clock.now })
        let minted = try await access.tokens.mint(for: "s", lifetimeSeconds: 1_000_000)
        #expect(minted.expiresAt == clock.now.addingTimeInterval(600))
    }

    @Test func aTokenSignedWithAnotherSecretOrTamperedWithIsRefused() async throws {
        let ours = try await AccessControl(Self.section(secret: "our secret, long enough to be a real HS256 key"))
        let theirs = try await AccessControl(Self.section(secret: "some other secret entirely, also 32 bytes or more"))
        let foreign = try await theirs.tokens.mint(for: "key-1234abcd")
        await #expect(throws: AuthFailure.invalidToken) { try await ours.authenticate(authorization: "Bearer \(foreign.token)", queryToken: nil) }
        let minted = try await ours.tokens.mint(for: "key-1234abcd")
        var parts = minted.token.split(separator: ".").map(String.init)
        // Another subject with the original signature.
        parts[1] = Data(#"{"sub":"admin","exp":9999999999}"#.utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        await #expect(throws: AuthFailure.invalidToken) { try await ours.authenticate(authorization: nil, queryToken: parts.joined(separator: ".")) }
        // alg "none" is never accepted.
        let none = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
        await #expect(throws: AuthFailure.invalidToken) { try await ours.authenticate(authorization: nil, queryToken: "\(none).\(parts[1]).") }
    }

    @Test func theOperatorsSharedSecretMintsTokensThisServerAccepts() async throws {
        // An operator's service signing with the same secret (here another authority).
        let server = try await AccessControl(Self.section())
        let operatorService = try await TokenAuthority(secret: "a shared secret of enough length for HS256", maxLifetimeSeconds: 60)
        let token = try await operatorService.mint(for: "user-42").token
        #expect(try await server.authenticate(authorization: "Bearer \(token)", queryToken: nil) == .token(subject: "user-42"))
    }

    @Test func failuresSayWhatToDoAndNeverEchoTheCredential() {
        for failure in [AuthFailure.missingCredentials, .invalidKey, .invalidToken, .expiredToken] {
            #expect(failure.error.code == .unauthorized)
            #expect(!failure.isForbidden)
        }
        #expect(AuthFailure.expiredToken.error.message.contains("/v1/auth/token"))
        #expect(AuthFailure.forbiddenOrigin("https://evil.example").error.code == .forbidden)
        #expect(AuthFailure.forbiddenOrigin("https://evil.example").error.message.contains("security.allowed_origins"))
    }

    @Test func aShortSecretIsRefusedNamingTheKey() async {
        await #expect {
            try await AccessControl(Self.section(secret: "too short"))
        } throws: { error in
            (error as? DuplexError)?.message.contains("security.token_secret") == true
        }
    }

    @Test func theDescriptionOfTheSectionHidesSecrets() {
        let section = Self.section()
        #expect(!"\(section)".contains(Self.key))
        #expect(!"\(section)".contains("shared secret"))
    }

    @Test(arguments: [
        // (origin, host, allowed)
        ("http://localhost:3000", "127.0.0.1:8080", true),
        ("https://127.0.0.1:9999", "127.0.0.1:8080", true),
        ("http://[::1]:8080", "[::1]:8080", true),
        ("http://10.200.0.2:8080", "10.200.0.2:8080", true),  // the server's own origin
        ("https://demo.lan", "demo.lan:443", true),
        ("https://demo.lan:443", "demo.lan", true),
        ("http://10.200.0.2:8081", "10.200.0.2:8080", false),  // another port is another origin
        ("https://evil.example", "127.0.0.1:8080", false),
        ("http://localhost.evil.example", "127.0.0.1:8080", false),
        ("null", "127.0.0.1:8080", false),
        ("file://", "127.0.0.1:8080", false),
        ("http://user@localhost", "127.0.0.1:8080", false),
        ("ws://127.0.0.1", "127.0.0.1:8080", true),  // what HummingbirdWSClient sends
        ("wss://demo.lan", "demo.lan:443", true),
        ("wss://demo.lan", "demo.lan:8443", true),  // WSClient leaves the port out
        ("wss://demo.lan", "other.lan:8443", false),
        ("ws://evil.example", "127.0.0.1:8080", false),
    ])
    func theDefaultOriginPolicy(_ origin: String, _ host: String, _ allowed: Bool) {
        #expect(OriginPolicy(allowed: []).allows(origin: origin, host: host) == allowed)
    }

    @Test func configuredOriginsAndTheWildcard() {
        let policy = OriginPolicy(allowed: ["https://App.Example.com/"])
        #expect(policy.allows(origin: "https://app.example.com", host: "duplex.internal:8080"))
        #expect(!policy.allows(origin: "https://other.example.com", host: "duplex.internal:8080"))
        #expect(policy.allows(origin: nil, host: "duplex.internal:8080"))  // not a browser page
        #expect(OriginPolicy(allowed: ["*"]).allows(origin: "https://anything.example", host: nil))
    }

    @Test func securityKeysLoadFromYAMLAndTheEnvironment() throws {
        var config = DuplexConfiguration()
        try ConfigurationLoader.apply(
            yaml: "security:\n  api_keys: [\"\(APIKeyStore.hash(Self.key))\"]\n  allowed_origins: [https://app.example.com]\n  token_ttl_s: 120\n",
            source: "test", to: &config)
        try ConfigurationLoader.apply(environment: ["DUPLEX_SECURITY_METRICS_REQUIRE_KEY": "true"], to: &config)
        #expect(config.security.apiKeys.count == 1 && config.security.requiresAuthentication)
        #expect(config.security.allowedOrigins == ["https://app.example.com"])
        #expect(config.security.tokenTTLSeconds == 120 && config.security.metricsRequireKey)
        #expect(throws: DuplexError.self) { try config.set(section: "security", key: "token_ttl_s", value: "5") }
        try config.set(section: "server", key: "tls_cert", value: "/x/cert.pem")
        #expect(config.server.tls == .files)
        #expect(throws: DuplexError.self) { try config.server.validate() }  // no key file
        try config.set(section: "server", key: "tls", value: "self-signed")
        try config.server.validate()
        #expect(throws: DuplexError.self) { try config.set(section: "server", key: "tls", value: "maybe") }
    }
}
