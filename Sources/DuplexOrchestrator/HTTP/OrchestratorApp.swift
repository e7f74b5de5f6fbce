import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexProto
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import Metrics
import NIOCore
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
    ///   - onListening: called with the bound port once the server runs (useful with port 0).
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) for a bad `conversation:` or `llm:`
    ///   section, naming the key.
    public static func make(
        configuration: DuplexConfiguration, pool: WorkerPool, registry: PrometheusCollectorRegistry,
        logger: Logger, services: [any Service] = [], speech: (any SpeechRecognition)? = nil, probe: SessionProbe? = nil,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws(DuplexError) -> some ApplicationProtocol {
        let sessions = SessionCounter()
        let limits = configuration.limits
        let responder = try Responders.make(configuration)
        let sessionConfiguration = SessionConfiguration(configuration)

        let router = Router()
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
            transcriber: speech as? any FileTranscriber, sessions: sessions, maxSessions: limits.maxSessions, logger: logger
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
        let serveSession: @Sendable (WebSocketInboundStream, WebSocketOutboundWriter, WebSocketDialect) async -> Void = { inbound, outbound, dialect in
            let id = UUID().uuidString.lowercased()
            let count = sessions.enter()
            defer { sessions.leave() }
            guard count <= limits.maxSessions else {
                let refusal = WebSocketEventWriter(outbound: outbound, dialect: dialect, logger: logger)
                await refusal.write(.error(DuplexError(.sessionLimit, "The server already has \(limits.maxSessions) sessions (limits.max_sessions); try again later.")))
                await refusal.write(.sessionEnded(sessionID: id, reason: "session_limit"))
                return
            }
            let engine = SessionEngine(
                id: id, configuration: sessionConfiguration, pool: pool, speech: speech, responder: responder,
                clock: ContinuousClock(), logger: logger, probe: probe)
            logger.info("session started", metadata: ["session.id": "\(id)", "session.dialect": "\(dialect.rawValue)"])
            await WebSocketSession.serve(inbound: inbound, outbound: outbound, engine: engine, limits: limits, dialect: dialect, logger: logger)
            logger.info("session ended", metadata: ["session.id": "\(id)"])
        }
        // Protocol v1 on /ws; the original project's clients on / (a plain GET / is not an
        // upgrade request and still reaches the HTTP router: the browser page).
        for (path, dialect) in [("/ws", WebSocketDialect.v1), ("/", .legacy)] {
            wsRouter.ws(RouterPath(path)) { _, _ in
                .upgrade([:])
            } onUpgrade: { inbound, outbound, _ in
                await serveSession(inbound, outbound, dialect)
            }
        }
        // The OpenAI Realtime API (docs/OPENAI_REALTIME.md), with the same session limit.
        wsRouter.ws("/v1/realtime") { _, _ in
            .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            let id = UUID().uuidString.lowercased()
            let count = sessions.enter()
            defer { sessions.leave() }
            let dialect = RealtimeDialect(openAIBeta: context.request.headers[.init("OpenAI-Beta")!])
            guard count <= limits.maxSessions else {
                await RealtimeSession.refuse(outbound: outbound, maxSessions: limits.maxSessions, dialect: dialect)
                return
            }
            let engine = SessionEngine(
                id: id, configuration: sessionConfiguration, pool: pool, speech: speech, responder: responder,
                clock: ContinuousClock(), logger: logger, probe: probe)
            let model = context.request.uri.queryParameters.get("model") ?? "duplex"
            logger.info("realtime session started", metadata: ["session.id": "\(id)"])
            await RealtimeSession.serve(
                inbound: inbound, outbound: outbound, engine: engine, model: model, dialect: dialect, limits: limits, logger: logger)
            logger.info("realtime session ended", metadata: ["session.id": "\(id)"])
        }

        // Frames are capped well above `max_message_bytes` so that an oversize message is
        // answered with MESSAGE_TOO_LARGE (the assembler drops it) instead of a close.
        let frameLimit = WebSocketMessageAssembler.frameLimit(maxMessageBytes: limits.maxMessageBytes)
        return Application(
            router: router,
            server: .http1WebSocketUpgrade(
                webSocketRouter: wsRouter,
                configuration: .init(ws: .init(maxFrameSize: frameLimit, validateUTF8: false))),
            configuration: .init(address: .hostname(configuration.server.host, port: configuration.server.port), serverName: "duplex"),
            services: services,
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
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
