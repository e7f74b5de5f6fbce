import DuplexCore
import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOSSL
import NIOWebSocket

/// A message received from the server, stamped with its arrival time.
public struct IncomingMessage: Sendable {
    /// Text (a JSON event) or binary (one audio frame).
    public enum Payload: Sendable {
        case text(String)
        case binary(Data)
    }

    /// The payload.
    public var payload: Payload
    /// When it arrived (monotonic).
    public var receivedAt: ContinuousClock.Instant

    /// The event's `type` for JSON messages, nil for binary frames.
    public var type: String? { json?["type"] as? String }

    /// The parsed JSON object of a text message.
    public var json: [String: Any]? {
        guard case .text(let text) = payload else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    /// The frame bytes of a binary message.
    public var binary: Data? {
        if case .binary(let data) = payload { return data }
        return nil
    }
}

/// A WebSocket connection to a Duplex server (protocol v1), for the CLI, the benchmark
/// and tests.
///
/// ```swift
/// try await DuplexConnection.connect(url: "ws://127.0.0.1:8080/ws", logger: logger) { connection in
///     let start = try await connection.next(type: "session_start")
///     let reply = try await connection.speak("Hello there.")
/// }
/// ```
public final class DuplexConnection: Sendable {
    private let outbound: WebSocketOutboundWriter
    private let inbox: AsyncBoundedQueue<IncomingMessage>

    init(outbound: WebSocketOutboundWriter, inbox: AsyncBoundedQueue<IncomingMessage>) {
        self.outbound = outbound
        self.inbox = inbox
    }

    /// Connects, runs `body`, then closes the connection. A `wss://` URL uses `tls` (nil:
    /// the system's trust roots).
    public static func connect<T: Sendable>(
        url: String, tls: TLSConfiguration? = nil, logger: Logger, _ body: @escaping @Sendable (DuplexConnection) async throws -> T
    ) async throws -> T {
        // The WebSocket client always sends the URL's host as TLS SNI, which may not be an
        // IP address: say so plainly instead of failing inside the handshake.
        if url.lowercased().hasPrefix("wss://"), let host = URL(string: url)?.host,
            host.first == "[" || host.allSatisfy({ $0.isNumber || $0 == "." }) || host.contains(":")
        {
            throw DuplexError(
                .invalidConfiguration,
                "Use a host name in wss:// URLs (e.g. wss://localhost:\(URL(string: url)?.port ?? 443)/ws), not the address \(host): the TLS client checks the certificate against a name.")
        }
        let result = Locked<Result<T, any Error>?>(nil)
        _ = try await WebSocketClient.connect(
            url: url, configuration: .init(maxFrameSize: 1 << 22, validateUTF8: true), tlsConfiguration: tls, logger: logger
        ) { inbound, outbound, _ in
            let inbox = AsyncBoundedQueue<IncomingMessage>(capacity: 1 << 16)
            let connection = DuplexConnection(outbound: outbound, inbox: inbox)
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        for try await message in inbound.messages(maxSize: 1 << 24) {
                            let now = ContinuousClock.now
                            switch message {
                            case .text(let text): try await inbox.send(IncomingMessage(payload: .text(text), receivedAt: now))
                            case .binary(let buffer):
                                try await inbox.send(IncomingMessage(payload: .binary(Data(buffer.readableBytesView)), receivedAt: now))
                            }
                        }
                        inbox.finish()
                    } catch {
                        inbox.finish(throwing: error)
                    }
                }
                do {
                    let value = try await body(connection)
                    result.withLock { $0 = .success(value) }
                } catch {
                    result.withLock { $0 = .failure(error) }
                }
                group.cancelAll()
            }
        }
        guard let outcome = result.value else {
            throw DuplexError(.workerUnavailable, "The connection to \(url) closed before the client finished.")
        }
        return try outcome.get()
    }

    /// Sends a JSON object.
    public func send(json object: [String: Any]) async throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        try await outbound.write(.text(String(decoding: data, as: UTF8.self)))
    }

    /// Sends raw text (for tests of malformed input).
    public func send(raw text: String) async throws {
        try await outbound.write(.text(text))
    }

    /// Sends raw binary.
    public func send(binary data: Data) async throws {
        try await outbound.write(.binary(ByteBuffer(bytes: data)))
    }

    /// Sends one message as several frames (a first text or binary frame, continuation
    /// frames, the last with FIN), as a client fragmenting a large message does.
    public func send(fragments: [Data], binary: Bool = false) async throws {
        for (index, fragment) in fragments.enumerated() {
            let opcode: WebSocketOpcode = index == 0 ? (binary ? .binary : .text) : .continuation
            let frame = WebSocketFrame(fin: index == fragments.count - 1, opcode: opcode, data: ByteBuffer(bytes: fragment))
            try await outbound.write(.custom(frame))
        }
    }

    /// The longest wait for one message before ``next()`` gives up (a stalled server must not
    /// hang a client or a test). Default 60 s.
    public static let receiveTimeout: Duration = .seconds(60)

    /// Prints every JSON message received (for `--verbose` tools).
    public var trace: Bool {
        get { tracing.value }
        set { tracing.withLock { $0 = newValue } }
    }
    private let tracing = Locked(false)

    /// The next message, or nil when the server closed the connection.
    /// - Throws: ``DuplexError`` (`workerUnavailable`) after ``receiveTimeout`` without a message.
    public func next() async throws -> IncomingMessage? {
        let inbox = self.inbox
        let trace = self.trace
        return try await withThrowingTaskGroup(of: IncomingMessage?.self) { group in
            group.addTask {
                let message = try await inbox.next()
                if trace, let json = message?.json { print("  ← \(json)") }
                return message
            }
            group.addTask {
                try await Task.sleep(for: Self.receiveTimeout)
                throw DuplexError(.workerUnavailable, "No message from the server for \(Self.receiveTimeout).")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// What ``poll(timeout:)`` found.
    public enum Poll: Sendable {
        /// A message arrived.
        case message(IncomingMessage)
        /// Nothing arrived in time.
        case timedOut
        /// The server closed the connection.
        case closed
    }

    /// The next message if one arrives within `timeout` (for loops that also watch the clock).
    public func poll(timeout: Duration) async throws -> Poll {
        let inbox = self.inbox
        return try await withThrowingTaskGroup(of: Poll.self) { group in
            group.addTask { try await inbox.next().map(Poll.message) ?? .closed }
            group.addTask {
                try await Task.sleep(for: timeout)
                return .timedOut
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// Waits for the initial `session_start`; with options (e.g. `model_id`, `speed`), sends a
    /// `start` message and waits for the updated `session_start`. Returns the last `session_start`.
    @discardableResult
    public func startSession(_ options: [String: any Sendable] = [:]) async throws -> IncomingMessage {
        let first = try await next(type: "session_start")
        guard !options.isEmpty else { return first }
        try await send(json: options.merging(["type": "start"]) { _, new in new })
        return try await next(type: "session_start")
    }

    /// Skips messages until one of the given type arrives.
    public func next(type: String) async throws -> IncomingMessage {
        var lastError: String?
        while let message = try await next() {
            if message.type == type { return message }
            if message.type == "error", let json = message.json {
                lastError = "\(json["code"] ?? "?"): \(json["message"] ?? "")"
            }
        }
        throw DuplexError(
            .invalidState, "The server closed the connection before sending \(type)" + (lastError.map { " (its last error: \($0))" } ?? "") + ".")
    }
}
