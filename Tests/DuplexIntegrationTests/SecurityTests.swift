import DuplexConfig
import DuplexCore
import DuplexOrchestrator
import DuplexSecurity
import DuplexTesting
import Foundation
import Logging
import Testing

/// The server's access rules driven by real clients (urllib, `websockets`, the `openai`
/// SDK): API keys, access tokens, origins, and TLS with certificates made by `openssl`.
@Suite(.serialized) struct SecurityTests {
    static let key = "dpx_integration-test-key-0123456789"
    static let secret = "an HS256 secret shared with the operator's service"

    /// A token signed with the server's secret that expired an hour ago.
    static func expiredToken() async throws -> String {
        let past = try await TokenAuthority(secret: secret, maxLifetimeSeconds: 60, now: { Date().addingTimeInterval(-3600) })
        return try await past.mint(for: "key-expired").token
    }

    static func configuration() -> DuplexConfiguration {
        var config = TestServer.configuration()
        config.security.apiKeys = [APIKeyStore.hash(key)]
        config.security.tokenSecret = secret
        return config
    }

    /// Runs tools/clients/security_check.py against `base`.
    static func check(_ base: String, ca: String? = nil) async throws -> [String: Any] {
        let script = "\(TestAssets.repositoryRoot)/tools/clients/security_check.py"
        let run = try await ProgramRun.run(
            TestAssets.python, [script, base, key, try await expiredToken()] + (ca.map { [$0] } ?? []), timeout: .seconds(180))
        try #require(run.status == 0, "security_check.py failed:\n\(run.errors)\n\(run.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any], "output: \(run.output)")
    }

    /// What every transport must show, whatever its scheme.
    static func expectTheRules(_ report: [String: Any]) throws {
        #expect(report["health"] as? Int == 200)  // open: load balancers and probes
        #expect(report["page"] as? Int == 200)  // open: the page asks for a token itself
        #expect(report["metrics"] as? Int == 200)  // metrics_require_key is off
        func http(_ name: String) throws -> [String: Any] { try #require(report[name] as? [String: Any], "\(name)") }
        for name in ["models_no_credentials", "models_wrong_key", "models_expired_token"] {
            let result = try http(name)
            #expect(result["status"] as? Int == 401, "\(name): \(result)")
            #expect((result["www_authenticate"] as? String)?.hasPrefix("Bearer") == true, "\(name)")
            #expect(result["error_code"] as? String == "invalid_api_key", "\(name)")  // OpenAI's shape under /v1/
        }
        #expect((try http("models_expired_token")["message"] as? String)?.contains("expired") == true)
        #expect((try http("models_no_credentials")["message"] as? String)?.contains("Authorization: Bearer") == true)
        #expect(try http("models_key")["status"] as? Int == 200)
        #expect(try http("models_query_key")["status"] as? Int == 200)
        #expect(report["cors_preflight_foreign"] as? Int == 403)
        let preflight = try http("cors_preflight_localhost")
        #expect(preflight["status"] as? Int == 204)
        #expect(preflight["allow_origin"] as? String == "http://localhost:5173")
        #expect((preflight["allow_headers"] as? String)?.contains("Authorization") == true)

        let sdk = try http("sdk")
        #expect((sdk["models"] as? Int ?? 0) > 0, "openai SDK with the key: \(sdk)")
        #expect(sdk["wrong_key"] as? String == "AuthenticationError 401")

        for name in ["ws_key_header", "ws_key_query", "ws_localhost_origin", "ws_minted_token_query"] {
            let result = try http(name)
            #expect(result["status"] as? Int == 101, "\(name): \(result)")
            #expect((result["first"] as? [String: Any])?["type"] as? String == "session_start", "\(name)")
        }
        // A refused connection: one typed error in the protocol's own shape, then close
        // 4401 (credentials) or 4403 (origin); no session is started.
        let refusals: [(String, String, String, Int)] = [
            ("ws_no_credentials", "UNAUTHORIZED", "Authorization: Bearer", 4401),
            ("ws_wrong_key", "UNAUTHORIZED", "not valid", 4401),
            ("ws_expired_header", "UNAUTHORIZED", "expired", 4401),
            ("legacy_no_credentials", "UNAUTHORIZED", "API key", 4401),
            ("ws_bad_query_token", "UNAUTHORIZED", "not valid", 4401),
            ("ws_expired_query_token", "UNAUTHORIZED", "expired", 4401),
            ("ws_foreign_origin", "FORBIDDEN", "security.allowed_origins", 4403),
        ]
        for (name, code, needle, close) in refusals {
            let result = try http(name)
            let messages = try #require(result["messages"] as? [[String: Any]], "\(name): \(result)")
            #expect(messages.count == 1, "\(name): \(messages)")
            #expect(messages.first?["type"] as? String == "error", "\(name): \(messages)")
            #expect(messages.first?["code"] as? String == code, "\(name)")
            #expect((messages.first?["message"] as? String)?.contains(needle) == true, "\(name): \(messages)")
            #expect(result["close_code"] as? Int == close, "\(name)")
        }
        let realtime = try http("realtime_bad_query_token")
        let event = try #require((realtime["messages"] as? [[String: Any]])?.first, "\(realtime)")
        #expect(event["type"] as? String == "error")
        #expect((event["error"] as? [String: Any])?["code"] as? String == "invalid_api_key")
        #expect(realtime["close_code"] as? Int == 4401)

        let minted = try http("minted")
        #expect(minted["token_type"] as? String == "Bearer")
        #expect((110...120).contains(minted["expires_in"] as? Int ?? 0), "\(minted)")
        #expect(report["token_mints_token"] as? Int == 403)  // a token cannot extend itself
        let speaks = try http("speaks")
        #expect(speaks["reason"] as? String == "completed", "\(speaks)")
        #expect((speaks["frames"] as? Int ?? 0) > 10)
    }

    @Test func keysTokensAndOriginsOverPlainHTTP() async throws {
        try await TestServer.with(Self.configuration()) { server in
            try Self.expectTheRules(try await Self.check(server.httpURL))
        }
    }

    @Test func withoutKeysTheServerIsOpenButForeignPagesAreStillRefused() async throws {
        try await TestServer.with { server in
            let python = """
                import json, sys, urllib.request, urllib.error, asyncio, websockets
                base = sys.argv[1]
                def status(path, headers):
                    try:
                        return urllib.request.urlopen(urllib.request.Request(base + path, headers=headers), timeout=30).status
                    except urllib.error.HTTPError as e:
                        return e.code
                async def ws(headers):
                    async with websockets.connect(base.replace("http", "ws") + "/ws", additional_headers=headers) as c:
                        first = json.loads(await c.recv())
                        if first["type"] != "error":
                            return first["type"]
                        try:
                            await c.recv()
                        except websockets.exceptions.ConnectionClosed as closed:
                            return f'{first["code"]} {closed.rcvd.code}'
                        return "not closed"
                print(json.dumps({
                    "models": status("/v1/models", {}),
                    "models_foreign": status("/v1/models", {"Origin": "https://evil.example"}),
                    "ws": asyncio.run(ws({})),
                    "ws_foreign": asyncio.run(ws({"Origin": "https://evil.example"})),
                    "ws_same_origin": asyncio.run(ws({"Origin": base})),
                }))
                """
            let run = try await ProgramRun.run(TestAssets.python, ["-c", python, server.httpURL])
            try #require(run.status == 0, "\(run.errors)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
            #expect(report["models"] as? Int == 200)
            #expect(report["models_foreign"] as? Int == 403)
            #expect(report["ws"] as? String == "session_start")
            #expect(report["ws_foreign"] as? String == "FORBIDDEN 4403")
            #expect(report["ws_same_origin"] as? String == "session_start")
        }
    }

    @Test func metricsCanRequireAKey() async throws {
        var config = Self.configuration()
        config.security.metricsRequireKey = true
        try await TestServer.with(config) { server in
            let refused = try await HTTP.get("\(server.httpURL)/metrics").1
            let allowed = try await HTTP.get("\(server.httpURL)/metrics?token=\(Self.key)").1
            let health = try await HTTP.get("\(server.httpURL)/health").1
            #expect(refused == 401)
            #expect(allowed == 200)
            #expect(health == 200)
        }
    }

    @Test func withoutKeysANonLoopbackHostIsNotServed() async throws {
        var config = TestServer.configuration()
        config.server.host = "0.0.0.0"
        let logger = Logger(label: "test")
        #expect(OrchestratorApp.bindHost(config, logger: logger) == "127.0.0.1")
        config.security.insecurePublic = true
        #expect(OrchestratorApp.bindHost(config, logger: logger) == "0.0.0.0")
        config.security.insecurePublic = false
        config.security.apiKeys = [Self.key]
        #expect(OrchestratorApp.bindHost(config, logger: logger) == "0.0.0.0")
    }

    // MARK: TLS

    /// A CA and a server certificate for 127.0.0.1 and localhost it signed, made by openssl.
    struct Certificates {
        var directory: URL
        var ca: String { directory.appendingPathComponent("ca.pem").path }
        func cert(_ name: String) -> String { directory.appendingPathComponent("\(name).pem").path }
        func key(_ name: String) -> String { directory.appendingPathComponent("\(name)-key.pem").path }

        static func make() async throws -> Certificates {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("duplex-tls-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let certificates = Certificates(directory: directory)
            try await certificates.openssl([
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=Duplex test CA", "-keyout", certificates.key("ca"), "-out", certificates.ca,
            ])
            for name in ["server", "renewed"] { try await certificates.issue(name) }
            return certificates
        }

        /// A certificate for 127.0.0.1 and localhost signed by the CA; `usage` `clientAuth` for
        /// a client certificate.
        func issue(_ name: String, usage: String = "serverAuth") async throws {
            let extensions = directory.appendingPathComponent("\(name).ext")
            try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=\(usage)\n".write(to: extensions, atomically: true, encoding: .utf8)
            try await openssl([
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=\(name)",
                "-keyout", key(name), "-out", directory.appendingPathComponent("\(name).csr").path,
            ])
            try await openssl([
                "x509", "-req", "-in", directory.appendingPathComponent("\(name).csr").path, "-CA", ca, "-CAkey", key("ca"),
                "-CAcreateserial", "-days", "2", "-extfile", extensions.path, "-out", cert(name),
            ])
        }

        func openssl(_ arguments: [String]) async throws {
            let run = try await ProgramRun.run("/usr/bin/openssl", arguments, timeout: .seconds(30))
            try #require(run.status == 0, "openssl \(arguments.first ?? ""): \(run.errors)")
        }
    }

    /// `duplex serve` over TLS as its own process (SIGHUP goes to it, not to the tests).
    @Test func httpsAndWSSServeTheSameRulesAndACertificateRenewalKeepsLiveSessions() async throws {
        let certificates = try await Certificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        let server = try WorkerProcess.serve(
            environment: ["DUPLEX_SECURITY_TOKEN_SECRET": Self.secret, "DUPLEX_ORCHESTRATOR_WORKER_TIMEOUT_MS": "30000"],
            arguments: ["--tls-cert", certificates.cert("server"), "--tls-key", certificates.key("server"), "--api-key", Self.key])
        defer { server.terminate() }
        try await TestServer.waitUntilHealthy(port: server.port, tls: true)

        try Self.expectTheRules(try await Self.check("https://127.0.0.1:\(server.port)", ca: certificates.ca))

        let script = "\(TestAssets.repositoryRoot)/tools/clients/tls_reload_check.py"
        let run = try await ProgramRun.run(
            TestAssets.python,
            [script, "127.0.0.1", "\(server.port)", certificates.ca, Self.key, "\(server.processIdentifier)",
             certificates.cert("renewed"), certificates.key("renewed"), certificates.cert("server"), certificates.key("server")],
            timeout: .seconds(120))
        try #require(run.status == 0, "tls_reload_check.py failed:\n\(run.errors)\n\(run.output)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        // Plain HTTP on the TLS port gets a TLS alert or nothing, never an HTTP answer.
        #expect(!(report["plaintext_answer"] as? String ?? "HTTP").hasPrefix("HTTP/"), "\(report)")
        #expect(report["live_start"] as? String == "session_start")
        #expect(report["before"] as? String != report["after"] as? String, "SIGHUP did not change the presented certificate")
        let live = try #require(report["live_after_reload"] as? [String: Any])
        #expect(live["reason"] as? String == "completed", "\(live)")
        #expect((live["frames"] as? Int ?? 0) > 10)
        #expect(report["fresh_start"] as? String == "session_start")
        #expect(server.isRunning)
    }

    @Test func aSelfSignedCertificateCoversTheHostAndIsReused() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("duplex-selfsigned-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try SelfSignedCertificate.ensure(in: directory)
        #expect(first.created)
        let again = try SelfSignedCertificate.ensure(in: directory)
        #expect(!again.created)
        // A year from now it is due for renewal (within 30 days of expiry).
        let later = try SelfSignedCertificate.ensure(in: directory, now: Date().addingTimeInterval(340 * 86_400))
        #expect(later.created)
        // openssl reads it and sees the loopback names; the key is private to its owner.
        let text = try await ProgramRun.run("/usr/bin/openssl", ["x509", "-in", first.certificate, "-noout", "-text"])
        #expect(text.output.contains("DNS:localhost"))
        #expect(text.output.contains("IP Address:127.0.0.1"))
        let attributes = try FileManager.default.attributesOfItem(atPath: first.key)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }
}
