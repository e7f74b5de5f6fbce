import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexSherpa
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The Wyoming protocol server (Home Assistant's local voice protocol) on its own TCP port:
/// `describe` → `info`, `synthesize` (and streaming `synthesize-start/chunk/stop`) → audio
/// through the conversation engine, `transcribe` + audio → `transcript` through the shared
/// Whisper (docs/WYOMING.md).
///
/// A `Service`: each connection is a child task of one group; a graceful shutdown stops
/// accepting, lets each connection finish its request in progress, then closes it.
///
/// ```swift
/// let wyoming = WyomingServer(configuration: config, pool: pool, speech: speech, logger: logger)
/// services.append(wyoming)
/// ```
public final class WyomingServer: Service {
    /// What every connection shares.
    struct Context: Sendable {
        var pool: WorkerPool
        var speech: SpeechServices?
        var recognizer: WyomingInfo.Recognizer?
        var session: SessionConfiguration
        var limits: WyomingEventDecoder.Limits
        var maxAudioSeconds: Int
        var probe: SessionProbe?
    }

    private let context: Context
    private let section: WyomingSection
    private let logger: Logger
    private let onListening: @Sendable (Int) async -> Void
    private let connections = Atomic<Int>(0)

    /// Creates the server.
    /// - Parameters:
    ///   - speech: the shared Whisper (nil: no `asr` program, `transcribe` is refused).
    ///   - probe: live counters of the engine sessions (tests, diagnostics).
    ///   - onListening: called with the bound port (useful with port 0).
    public init(
        configuration: DuplexConfiguration, pool: WorkerPool, speech: SpeechServices?, logger: Logger, probe: SessionProbe? = nil,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        section = configuration.wyoming
        let recognizer = speech.map { speech in
            WyomingInfo.Recognizer(
                name: URL(fileURLWithPath: speech.recognizer.modelDirectory).lastPathComponent,
                languages: WyomingInfo.languages(modelDirectory: speech.recognizer.modelDirectory, configured: configuration.asr.language))
        }
        context = Context(
            pool: pool, speech: speech, recognizer: recognizer, session: SessionConfiguration(configuration),
            limits: WyomingEventDecoder.Limits(maxDataBytes: section.maxEventBytes, maxPayloadBytes: section.maxEventBytes),
            maxAudioSeconds: section.maxAudioSeconds, probe: probe)
        var logger = logger
        logger[metadataKey: "protocol"] = "wyoming"
        self.logger = logger
        self.onListening = onListening
    }

    /// Serves until cancelled or shut down gracefully.
    public func run() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: section.host, port: section.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress?.port ?? section.port
        logger.notice("Wyoming server listening", metadata: ["url": "tcp://\(section.host):\(port)"])
        await onListening(port)
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { clients in
                    for try await client in clients {
                        let count = connections.add(1, ordering: .relaxed).newValue
                        let id = "wyoming-" + UUID().uuidString.lowercased()
                        var logger = self.logger
                        logger[metadataKey: "session.id"] = "\(id)"
                        let context = self.context, limit = section.maxConnections
                        group.addTask {
                            defer { self.connections.subtract(1, ordering: .relaxed) }
                            guard count <= limit else {
                                await Self.refuse(client, limit: limit, logger: logger)
                                return
                            }
                            logger.debug("Wyoming connection opened")
                            await WyomingConnection(id: id, context: context, logger: logger).run(client)
                            logger.debug("Wyoming connection closed")
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    /// Open connections now.
    public var connectionCount: Int { connections.load(ordering: .relaxed) }

    private static func refuse(_ client: NIOAsyncChannel<ByteBuffer, ByteBuffer>, limit: Int, logger: Logger) async {
        try? await client.executeThenClose { _, outbound in
            await WyomingEventWriter(outbound: outbound, logger: logger).write(DuplexError(
                .sessionLimit, "The server already has \(limit) Wyoming connections (wyoming.max_connections); try again later."))
        }
    }
}
