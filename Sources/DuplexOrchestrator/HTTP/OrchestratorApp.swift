import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexProto
import DuplexSecurity
import Foundation
import Hummingbird
import HummingbirdTLS
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import Metrics
import NIOCore
import NIOWebSocket
import Prometheus
import ServiceLifecycle

/// Builds the orchestrator's HTTP + WebSocket application:
/// `GET /health`, `GET /metrics`, `GET /v1/models`, the OpenAI audio API (`/v1/audio/*`),
/// the browser client at `GET /` (files of `server.web_dir`), the WebSocket at `/ws`
/// (protocol v1) and at `/` (the original project's dialect of it, ``WebSocketDialect/legacy``),
/// and the OpenAI Realtime API at `/v1/realtime`.
public enum OrchestratorApp {
    /// Creates the application.
    /// - Parameters:
    ///   - speech: the VAD and ASR for conversation mode (nil: text only).
    ///   - probe: live counters of every session (tests, diagnostics).
    ///   - access: the access rules (nil: built from `security:`; tests pass one with their
    ///     own clock).
    ///   - quotas: the per-key budgets (nil: built from `quotas:`; tests pass one with their
    ///     own clock).
    ///   - onListening: called with the bound port once the server runs (useful with port 0).
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) for a bad `conversation:`, `llm:`,
    ///   `security:` or `server:` TLS setting, naming the key.
    public static func make(
        configuration: DuplexConfiguration, pool: WorkerPool, registry: PrometheusCollectorRegistry,
        logger: Logger, services: [any Service] = [], speech: (any SpeechRecognition)? = nil, probe: SessionProbe? = nil,
        access: AccessControl? = nil, quotas: QuotaBook? = nil, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws(DuplexError) -> some ApplicationProtocol {
        let sessions = SessionCounter()
        let limits = configuration.limits
        let responder = try Responders.make(configuration)
        let sessionConfiguration = SessionConfiguration(configuration)
        try configuration.server.validate()
        let access = if let access { access } else { try await AccessControl(configuration.security) }
        let quotas = quotas ?? QuotaBook(limits: configuration.quotas)
        var services = services

        let router = Router()
        // Origins and credentials before anything else (docs/SECURITY.md).
        router.add(middleware: AccessMiddleware<BasicRequestContext>(access: access, logger: logger))
        AuthRoutes(access: access).register(on: router)
        router.get("/health") { _, _ -> Response in
            let workers = await pool.health()
            let healthy = workers.contains { $0.reachable && $0.ready }
            let body: [String: Any] = [
                "status": healthy ? "ok" : "degraded",
                "sessions": sessions.current,
                "rss_bytes": ProcessMemory.residentBytes,
                "workers": workers.map { w -> [String: Any] in
                    ["address": w.address, "reachable": w.reachable, "ready": w.ready, "name": w.name,
                     "resident_models": w.residentModels, "metrics": w.metrics]
                },
            ]
            return jsonResponse(body, status: healthy ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, _ -> Response in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        router.get("/v1/models") { _, _ -> Response in
            do {
                return jsonResponse(try await modelsListing(pool: pool), status: .ok, allowAnyOrigin: true)
            } catch {
                let failure = DuplexError.wrap(error, as: .workerUnavailable, "No worker answered.")
                return jsonResponse(["error": ["code": failure.code.rawValue, "message": failure.message]], status: .serviceUnavailable, allowAnyOrigin: true)
            }
        }
        // The OpenAI audio API (docs/OPENAI_AUDIO.md).
        OpenAIAudioRoutes(
            settings: configuration.openai, catalog: VoiceCatalog(pool: pool, settings: configuration.openai),
            synthesis: SpeechSynthesis(pool: pool, configuration: sessionConfiguration, responder: responder, logger: logger, probe: probe),
            transcriber: speech as? any FileTranscriber, sessions: sessions, maxSessions: limits.maxSessions, access: access, quotas: quotas,
            logger: logger
        ).register(on: router)
        // The browser client (web/), or a short page pointing at the docs when it is missing.
        if FileManager.default.fileExists(atPath: configuration.server.webDir + "/index.html") {
            router.add(middleware: FileMiddleware(configuration.server.webDir, searchForIndexHtml: true, logger: logger))
        } else {
            router.get("/") { _, _ -> Response in
                Response(
                    status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: placeholderPage)))
            }
        }

        let wsRouter = Router(context: BasicWebSocketRequestContext.self)
        // One session per connection, in the endpoint's dialect.
        let serveSession: @Sendable (WebSocketInboundStream, WebSocketOutboundWriter, WebSocketDialect, Principal) async -> Void = {
            inbound, outbound, dialect, principal in
            let id = UUID().uuidString.lowercased()
            let count = sessions.enter()
            defer { sessions.leave() }
            guard count <= limits.maxSessions else {
                let refusal = WebSocketEventWriter(outbound: outbound, dialect: dialect, logger: logger)
                await refusal.write(.error(DuplexError(.sessionLimit, "The server already has \(limits.maxSessions) sessions (limits.max_sessions); try again later.")))
                await refusal.write(.sessionEnded(sessionID: id, reason: "session_limit"))
                return
            }
            let lease: QuotaLease
            do throws(DuplexError) {
                lease = try quotas.openSession(for: principal.account)
            } catch {
                let refusal = WebSocketEventWriter(outbound: outbound, dialect: dialect, logger: logger)
                await refusal.write(.error(error))
                await refusal.write(.sessionEnded(sessionID: id, reason: "rate_limited"))
                return
            }
            defer { lease.close() }
            let engine = SessionEngine(
                id: id, configuration: sessionConfiguration, pool: pool, speech: speech, responder: responder,
                clock: ContinuousClock(), logger: logger, probe: probe, quota: lease.quota)
            logger.info("session started", metadata: ["session.id": "\(id)", "session.dialect": "\(dialect.rawValue)"])
            await WebSocketSession.serve(inbound: inbound, outbound: outbound, engine: engine, limits: limits, dialect: dialect, logger: logger)
            logger.info("session ended", metadata: ["session.id": "\(id)"])
        }
        // Protocol v1 on /ws; the original project's clients on / (a plain GET / is not an
        // upgrade request and still reaches the HTTP router: the browser page).
        for (path, dialect) in [("/ws", WebSocketDialect.v1), ("/", .legacy)] {
            wsRouter.ws(RouterPath(path)) { request, _ in
                WebSocketAccess.shouldUpgrade(request)
            } onUpgrade: { inbound, outbound, context in
                switch await WebSocketAccess.admit(context.request, access: access) {
                case .failure(let failure):
                    let refusal = WebSocketEventWriter(outbound: outbound, dialect: dialect, logger: logger)
                    await refusal.write(.error(failure.error))
                    try? await outbound.close(WebSocketAccess.closeCode(failure), reason: failure.isForbidden ? "forbidden" : "unauthorized")
                case .success(let principal):
                    await serveSession(inbound, outbound, dialect, principal)
                }
            }
        }
        // The OpenAI Realtime API (docs/OPENAI_REALTIME.md), with the same session limit.
        wsRouter.ws("/v1/realtime") { request, _ in
            WebSocketAccess.shouldUpgrade(request)
        } onUpgrade: { inbound, outbound, context in
            let admission = await WebSocketAccess.admit(context.request, access: access)
            if case .failure(let failure) = admission {
                let dialect = RealtimeDialect(openAIBeta: context.request.headers[.init("OpenAI-Beta")!])
                await RealtimeSession.refuse(
                    outbound: outbound,
                    error: RealtimeProtocolError(
                        type: "invalid_request_error", code: failure.isForbidden ? "forbidden_origin" : "invalid_api_key", failure.error.message),
                    dialect: dialect)
                try? await outbound.close(WebSocketAccess.closeCode(failure), reason: failure.isForbidden ? "forbidden" : "unauthorized")
                return
            }
            let id = UUID().uuidString.lowercased()
            let count = sessions.enter()
            defer { sessions.leave() }
            let dialect = RealtimeDialect(openAIBeta: context.request.headers[.init("OpenAI-Beta")!])
            guard count <= limits.maxSessions else {
                await RealtimeSession.refuse(
                    outbound: outbound,
                    error: RealtimeProtocolError(
                        type: "server_error", code: "session_limit",
                        "The server already has \(limits.maxSessions) sessions (limits.max_sessions); try again later."),
                    dialect: dialect)
                return
            }
            let lease: QuotaLease
            do throws(DuplexError) {
                lease = try quotas.openSession(for: ((try? admission.get()) ?? .open).account)
            } catch {
                await RealtimeSession.refuse(outbound: outbound, error: RealtimeProtocolError(error), dialect: dialect)
                return
            }
            defer { lease.close() }
            let engine = SessionEngine(
                id: id, configuration: sessionConfiguration, pool: pool, speech: speech, responder: responder,
                clock: ContinuousClock(), logger: logger, probe: probe, quota: lease.quota)
            let model = context.request.uri.queryParameters.get("model") ?? "duplex"
            logger.info("realtime session started", metadata: ["session.id": "\(id)"])
            await RealtimeSession.serve(
                inbound: inbound, outbound: outbound, engine: engine, model: model, dialect: dialect, limits: limits, logger: logger)
            logger.info("realtime session ended", metadata: ["session.id": "\(id)"])
        }

        // Frames are capped well above `max_message_bytes` so that an oversize message is
        // answered with MESSAGE_TOO_LARGE (the assembler drops it) instead of a close.
        let frameLimit = WebSocketMessageAssembler.frameLimit(maxMessageBytes: limits.maxMessageBytes)
        var server: HTTPServerBuilder = .http1WebSocketUpgrade(
            webSocketRouter: wsRouter,
            configuration: .init(ws: .init(maxFrameSize: frameLimit, validateUTF8: false)))
        let host = bindHost(configuration, logger: logger)
        if let certificates = try tlsCertificates(configuration.server, logger: logger) {
            do {
                server = try .tls(server, tlsConfiguration: certificates.serverConfiguration())
            } catch {
                throw DuplexError(.invalidConfiguration, "The TLS certificate and key do not make a usable TLS configuration (server.tls_cert, server.tls_key): \(error)", cause: error)
            }
            services.append(TLSReloadService(certificates: certificates, logger: logger))
            if configuration.server.httpRedirectPort != 0 {
                services.append(HTTPSRedirect.application(
                    host: host, port: configuration.server.httpRedirectPort, httpsPort: configuration.server.port, logger: logger))
            }
        }
        return Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(host, port: configuration.server.port), serverName: "duplex"),
            services: services,
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// `server.host`, or loopback when no API key is configured and `security.insecure_public`
    /// is not set: an open server is never exposed by accident.
    public static func bindHost(_ configuration: DuplexConfiguration, logger: Logger) -> String {
        let host = configuration.server.host
        let security = configuration.security
        guard !security.requiresAuthentication else { return host }
        if ServerSection.isLoopback(host) {
            logger.notice("no API keys configured: anyone who can reach this loopback address can use the server (security.api_keys)")
            return host
        }
        if security.insecurePublic {
            logger.warning("serving \(host) WITHOUT authentication (security.insecure_public): anyone who reaches it can use the server and its LLM key")
            return host
        }
        logger.warning("no API keys configured: binding 127.0.0.1 instead of \(host); set security.api_keys (or --api-key), or --insecure-public to serve it open")
        return "127.0.0.1"
    }

    /// The certificates for `server.tls`, or nil when TLS is off.
    static func tlsCertificates(_ server: ServerSection, logger: Logger) throws(DuplexError) -> TLSCertificates? {
        switch server.tls {
        case .off:
            return nil
        case .files:
            return try TLSCertificates(certificatePath: server.tlsCert, keyPath: server.tlsKey)
        case .selfSigned:
            let files = try SelfSignedCertificate.ensure(in: server.tlsDir)
            logger.notice(
                files.created ? "created a self-signed TLS certificate" : "using the cached self-signed TLS certificate",
                metadata: ["tls.cert": "\(files.certificate)"])
            return try TLSCertificates(certificatePath: files.certificate, keyPath: files.key)
        }
    }

    private static func jsonResponse(_ object: [String: Any], status: HTTPResponse.Status, allowAnyOrigin: Bool = false) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        var headers: HTTPFields = [.contentType: "application/json"]
        if allowAnyOrigin { headers[.accessControlAllowOrigin] = "*" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `GET /v1/models`: the worker's catalog with resident state, for the browser's picker.
    static func modelsListing(pool: WorkerPool) async throws(DuplexError) -> [String: Any] {
        let worker = try pool.pick()
        let listing = try await worker.call { client, options in
            try await client.listModels(Duplex_Tts_V1_ListModelsRequest(), options: options)
        }
        let capabilities = try? await worker.call { client, options in
            try await client.getCapabilities(Duplex_Tts_V1_GetCapabilitiesRequest(), options: options)
        }
        let models = listing.models.sorted { $0.modelID < $1.modelID }.map { model -> [String: Any] in
            [
                "model_id": model.modelID, "family": model.family, "languages": model.languages, "is_loaded": model.isLoaded,
                "display_name": model.metadata["display_name"] ?? model.modelID,
                "tags": (model.metadata["tags"] ?? "").split(separator: ",").map(String.init),
            ]
        }
        // OpenAI's list shape alongside Duplex's own fields, so OpenAI clients can list voices.
        let data = listing.models.map(\.modelID).sorted().map { id -> [String: Any] in
            ["id": id, "object": "model", "owned_by": "duplex", "created": 0]
        }
        return [
            "models": models, "default_model_id": capabilities?.residentModels.first ?? "", "worker": worker.address,
            "object": "list", "data": data,
        ]
    }

    static let placeholderPage = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Duplex</title>
        <meta name="viewport" content="width=device-width, initial-scale=1"></head>
        <body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; line-height: 1.5">
        <h1>Duplex</h1>
        <p>The realtime speech server is running. Connect a WebSocket client to <code>/ws</code>
        (protocol v1, see docs/WEBSOCKET_PROTOCOL.md), or try <code>duplex say "Hello there." --out hello.wav</code>.</p>
        <p><a href="/health">/health</a> · <a href="/metrics">/metrics</a></p>
        </body></html>
        """
}
