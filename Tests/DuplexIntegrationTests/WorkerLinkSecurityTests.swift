import DuplexClient
import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexProto
import DuplexTesting
import DuplexWorker
import Foundation
import Logging
import Testing

/// The orchestrator ↔ worker links (docs/SECURITY.md): a worker with a shared token refuses
/// calls without it, a worker with mutual TLS refuses plaintext, unknown and certificate-less
/// callers; the orchestrator configured like the worker converses through it. Real `duplex
/// worker` and Python SDK processes, certificates made by openssl.
@Suite(.serialized) struct WorkerLinkSecurityTests {
    static let token = "a-worker-token-shared-by-the-cluster"
    let logger = Logger(label: "test")

    /// GetCapabilities through `link`, retried while the worker is still starting (`starting`
    /// bounds that wait; a refusal is final and returned at once).
    static func capabilities(_ address: String, link: WorkerLink, starting: Duration = .seconds(60)) async -> Result<String, DuplexError> {
        let deadline = ContinuousClock.now + starting
        while true {
            let result: Result<String, DuplexError>
            do {
                let connection = try WorkerConnection(address: WorkerAddress(parsing: address), timeout: .seconds(5), link: link)
                result = await withTaskGroup(of: Result<String, DuplexError>?.self) { group in
                    group.addTask {
                        try? await connection.run()
                        return nil
                    }
                    defer { connection.shutdown() }
                    do {
                        let response = try await connection.call { client, options in
                            try await client.getCapabilities(Duplex_Tts_V1_GetCapabilitiesRequest(), options: options)
                        }
                        return .success(response.workerName)
                    } catch let error as DuplexError {
                        return .failure(error)
                    } catch {
                        return .failure(DuplexError(.internal, "\(error)"))
                    }
                }
            } catch {
                result = .failure(DuplexError(.internal, "\(error)"))
            }
            // Connection refused (or no answer within the call's timeout: on a loaded machine the
            // port may open seconds after the process starts) while the process starts: try again;
            // anything else — a refusal — is the answer.
            let described = (try? result.get()).map { _ in "" } ?? String(describing: result)
            if described.contains("Connection refused") || described.contains("did not answer within"),
                ContinuousClock.now < deadline
            {
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            return result
        }
    }

    /// One reply through the orchestrator (configured by `configure`) to `worker`.
    func speaksThrough(_ worker: String, _ configure: (inout DuplexConfiguration) -> Void) async throws {
        var config = TestServer.configuration(workers: [worker])
        configure(&config)
        try await TestServer.with(config) { server in
            try await DuplexConnection.connect(url: server.webSocketURL, logger: logger) { connection in
                try await connection.startSession(["model_id": "sine-440"])
                let reply = try await connection.speak("Through a secured worker link.")
                #expect(reply.reason == "completed")
                #expect(reply.errors.isEmpty)
                #expect(reply.frameSizes.count > 10)
            }
        }
    }

    @Test func aWorkerWithATokenRefusesCallersWithoutItAndServesTheOrchestratorThatHasIt() async throws {
        let worker = try WorkerProcess(arguments: ["--worker-token", Self.token])
        defer { worker.terminate() }
        // Without the token, and with a wrong one: refused, with a reason naming the setting.
        let anonymous = await Self.capabilities(worker.address, link: .plaintext)
        guard case .failure(let refusal) = anonymous else { Issue.record("a call without the token was served"); return }
        #expect(refusal.code == .workerUnavailable)
        #expect(refusal.message.contains("unauthenticated") && refusal.message.contains("security.worker_token"), "\(refusal.message)")
        let wrong = await Self.capabilities(worker.address, link: WorkerLink(token: "not-the-token-0123456789"))
        guard case .failure(let wrongRefusal) = wrong else { Issue.record("a wrong token was accepted"); return }
        #expect(wrongRefusal.message.contains("wrong"), "\(wrongRefusal.message)")
        // With it: served, through the CLI's link and through a whole orchestrator.
        let served = await Self.capabilities(worker.address, link: WorkerLink(token: Self.token))
        #expect((try? served.get()) != nil, "\(served)")
        try await speaksThrough(worker.address) { $0.security.workerToken = Self.token }
    }

    @Test func thePythonSDKWorkerChecksTheSameToken() async throws {
        let chirp = try await PythonWorkerProcess.start(
            module: "duplex_worker.examples.chirp", [], environment: ["DUPLEX_SECURITY_WORKER_TOKEN": Self.token])
        defer { chirp.kill() }
        let anonymous = await Self.capabilities(chirp.address, link: .plaintext)
        guard case .failure(let refusal) = anonymous else { Issue.record("the Python worker served a call without the token"); return }
        #expect(refusal.message.contains("security.worker_token"), "\(refusal.message)")
        let served = await Self.capabilities(chirp.address, link: WorkerLink(token: Self.token))
        #expect((try? served.get()) != nil, "\(served)")
    }

    @Test func aWorkerWithMutualTLSServesOnlyClientsWithACertificateFromItsCA() async throws {
        let certificates = try await SecurityTests.Certificates.make()
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        try await certificates.issue("orchestrator", usage: "clientAuth")
        // Another CA's client certificate: valid, but not one this worker trusts.
        let stranger = try await SecurityTests.Certificates.make()
        defer { try? FileManager.default.removeItem(at: stranger.directory) }
        try await stranger.issue("intruder", usage: "clientAuth")

        let worker = try WorkerProcess(arguments: [
            "--tls-cert", certificates.cert("server"), "--tls-key", certificates.key("server"), "--tls-client-ca", certificates.ca,
        ])
        defer { worker.terminate() }
        let trusted = WorkerLink(tls: .init(caFile: certificates.ca, certificateFile: certificates.cert("orchestrator"), keyFile: certificates.key("orchestrator")))
        // Wait for the worker with the right credentials first, then try the wrong ones.
        let served = await Self.capabilities(worker.address, link: trusted)
        #expect((try? served.get()) != nil, "\(served)")

        let refusals: [(String, WorkerLink)] = [
            ("plaintext", .plaintext),
            ("TLS without a client certificate", WorkerLink(tls: .init(caFile: certificates.ca))),
            ("a client certificate from another CA", WorkerLink(tls: .init(
                caFile: certificates.ca, certificateFile: stranger.cert("intruder"), keyFile: stranger.key("intruder")))),
            ("a worker certificate the client does not trust", WorkerLink(tls: .init(
                caFile: stranger.ca, certificateFile: certificates.cert("orchestrator"), keyFile: certificates.key("orchestrator")))),
        ]
        for (name, link) in refusals {
            let result = await Self.capabilities(worker.address, link: link, starting: .zero)
            guard case .failure(let error) = result else { Issue.record("\(name) was served"); continue }
            #expect(error.code == .workerUnavailable, "\(name): \(error)")
        }
        // The orchestrator configured like the worker converses through it.
        try await speaksThrough(worker.address) {
            $0.orchestrator.tlsCA = certificates.ca
            $0.orchestrator.tlsCert = certificates.cert("orchestrator")
            $0.orchestrator.tlsKey = certificates.key("orchestrator")
        }
    }

    @Test func workerTLSSettingsAreCheckedAtStart() throws {
        var worker = DuplexConfiguration().worker
        worker.tlsCert = "/some/cert.pem"
        #expect(throws: DuplexError.self) { try WorkerAccess.transportSecurity(worker) }
        worker = DuplexConfiguration().worker
        worker.tlsClientCA = "/some/ca.pem"
        #expect(throws: DuplexError.self) { try WorkerAccess.transportSecurity(worker) }
        #expect(throws: DuplexError.self) {
            var config = DuplexConfiguration()
            try config.set(section: "security", key: "worker_token", value: "short")
        }
    }
}
