import DuplexClient
import DuplexConfig
import DuplexCore
import DuplexRedis
import DuplexRegistry
import DuplexTesting
import Foundation
import Logging
import Testing

/// The registry over `rediss://` with a Redis ACL user (docs/SECURITY.md): a real
/// `redis-server` with TLS only (certificates made by openssl) and the default user off.
@Suite(.serialized) struct RedisSecurityTests {
    static let user = "duplex", password = "a-redis-acl-password"
    let logger = Logger(label: "test")

    static func start() async throws -> (RedisServerProcess, SecurityTests.Certificates) {
        let certificates = try await SecurityTests.Certificates.make()
        let redis = try await RedisServerProcess.start(
            tls: (certificates.cert("server"), certificates.key("server"), certificates.ca),
            aclUsers: ["default off", "\(user) on >\(password) ~duplex:* &duplex:* +@all"])
        return (redis, certificates)
    }

    /// One SET/GET round trip through `url`, or the error.
    static func roundTrip(_ url: String) async -> Result<String?, RedisError> {
        do {
            var configuration = try RedisConfiguration(url: url)
            configuration.connectTimeout = .seconds(2)
            configuration.commandTimeout = .seconds(2)
            let client = try RedisClient(configuration: configuration)
            let result: Result<String?, RedisError>
            do {
                _ = try await client.set("duplex:probe", "ok")
                result = .success(try await client.get("duplex:probe"))
            } catch {
                result = .failure(error)
            }
            await client.close()
            return result
        } catch {
            return .failure(error)
        }
    }

    @Test func theRESPClientSpeaksTLSAndACLAuthAndRefusesWhatItShould() async throws {
        let (redis, certificates) = try await Self.start()
        defer { Task { try? await redis.stop() } }
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        let base = "127.0.0.1:\(redis.port)"
        let good = "rediss://\(Self.user):\(Self.password)@\(base)?ssl_ca_certs=\(certificates.ca)"
        #expect(try await Self.roundTrip(good).get() == "ok")
        // A client certificate is accepted too (tls-auth-clients optional).
        try await certificates.issue("registry-client", usage: "clientAuth")
        let withCertificate = good + "&ssl_certfile=\(certificates.cert("registry-client"))&ssl_keyfile=\(certificates.key("registry-client"))"
        #expect(try await Self.roundTrip(withCertificate).get() == "ok")

        let wrongPassword = await Self.roundTrip("rediss://\(Self.user):wrong@\(base)?ssl_ca_certs=\(certificates.ca)")
        guard case .failure(let authError) = wrongPassword else { Issue.record("a wrong password was accepted"); return }
        #expect(authError.code == .authenticationFailed)
        #expect(!authError.message.contains("wrong"), "the password leaked into the message: \(authError.message)")
        // No user: the default user is off, so the first command is refused.
        guard case .failure = await Self.roundTrip("rediss://\(base)?ssl_ca_certs=\(certificates.ca)") else {
            Issue.record("an unauthenticated client was served"); return
        }
        // Plaintext to the TLS port, and TLS without trusting the server's CA: no reply.
        guard case .failure = await Self.roundTrip("redis://\(Self.user):\(Self.password)@\(base)") else {
            Issue.record("plaintext reached a TLS-only Redis"); return
        }
        guard case .failure = await Self.roundTrip("rediss://\(Self.user):\(Self.password)@\(base)") else {
            Issue.record("a certificate from an unknown CA was trusted"); return
        }
        guard case .failure(let missing) = await Self.roundTrip("rediss://\(base)?ssl_ca_certs=/nonexistent/ca.pem") else {
            Issue.record("a missing CA file was ignored"); return
        }
        #expect(missing.code == .invalidConfiguration)
    }

    @Test func workersRegisterAndTheOrchestratorRoutesOverRediss() async throws {
        let (redis, certificates) = try await Self.start()
        defer { Task { try? await redis.stop() } }
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        let url = "rediss://\(Self.user):\(Self.password)@127.0.0.1:\(redis.port)?ssl_ca_certs=\(certificates.ca)"
        let worker = try WorkerProcess(registry: (url: url, name: "tls-worker", heartbeatMs: 500, ttlMs: 5000))
        defer { worker.terminate() }
        try await redis.waitForRegistry("the worker registered over TLS", url: url) { $0.map(\.name) == ["tls-worker"] && $0.allSatisfy(\.ready) }
        var config = TestServer.configuration()
        config.registry.redisURL = url
        config.registry.rescanMs = 500
        try await TestServer.with(config) { server in
            try await DuplexConnection.connect(url: server.webSocketURL, logger: logger) { connection in
                let start = try await connection.startSession(["model_id": "sine-440"])
                #expect(start.json?["worker"] as? String == worker.address)
                let reply = try await connection.speak("Routed through a registry behind TLS.")
                #expect(reply.reason == "completed")
                #expect(reply.errors.isEmpty)
            }
        }
    }
}
