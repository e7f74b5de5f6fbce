import DuplexConfig
import DuplexCore
import DuplexEngine
import Foundation
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// The OpenAI Realtime API (`/v1/realtime`) as a thin adapter over the conversation engine:
/// client events are parsed and translated into ``SessionInput`` (bad ones are answered with an
/// `error` event and skipped), engine events are translated into Realtime server events. The
/// adapter's only state is the protocol's bookkeeping (``RealtimeTranslator``).
/// Docs: docs/OPENAI_REALTIME.md.
enum RealtimeSession {
    /// Serves one upgraded connection until the client closes it.
    static func serve<C: Clock & Sendable>(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, engine: SessionEngine<C>, model: String,
        dialect: RealtimeDialect, limits: LimitsSection, logger: Logger
    ) async where C.Duration == Duration {
        let connection: RealtimeConnection
        do {
            connection = try RealtimeConnection(
                translator: RealtimeTranslator(sessionID: engine.id, model: model, dialect: dialect), outbound: outbound, logger: logger)
        } catch {
            logger.error("realtime session could not start", metadata: ["error.message": "\(error)"])
            return
        }
        let input = RealtimeSessionInput(frames: inbound, outbound: outbound, connection: connection, limits: limits, quota: engine.quota)
        await engine.run(input, output: connection)
    }

    /// Refuses a connection (over `limits.max_sessions`, or its token refused) with an
    /// `error` event (the connection closes when the handler returns).
    static func refuse(outbound: WebSocketOutboundWriter, error refusal: RealtimeProtocolError, dialect: RealtimeDialect) async {
        guard let audio = try? RealtimeAudioConverter() else { return }
        var encoder = RealtimeEncoder(dialect: dialect, audio: audio)
        for message in encoder.encode(.error(refusal)) { try? await outbound.write(.text(message)) }
    }
}

/// One connection: the translator and the encoder behind one lock, and the socket. Engine
/// events are translated and encoded under the lock (quick: no I/O), then written in order.
final class RealtimeConnection: SessionOutput {
    private struct State {
        var translator: RealtimeTranslator
        var encoder: RealtimeEncoder
    }

    private let state: Mutex<State>
    private let outbound: WebSocketOutboundWriter
    private let logger: Logger

    init(translator: RealtimeTranslator, outbound: WebSocketOutboundWriter, logger: Logger) throws(DuplexError) {
        let encoder = RealtimeEncoder(dialect: translator.dialect, audio: try RealtimeAudioConverter())
        state = Mutex(State(translator: translator, encoder: encoder))
        self.outbound = outbound
        self.logger = logger
    }

    /// The engine's first input.
    func opening() -> SessionInput {
        state.withLock { $0.translator.opening() }
    }

    /// An engine event, as Realtime server events.
    func write(_ event: SessionEvent) async {
        let messages = state.withLock { s in s.translator.engine(event).flatMap { s.encoder.encode($0) } }
        await send(messages)
    }

    /// A client event: its server events are sent, its engine inputs returned.
    func client(_ event: RealtimeClientEvent) async -> [SessionInput] {
        let (inputs, messages) = state.withLock { s in
            let step = s.translator.client(event)
            return (step.inputs, step.events.flatMap { s.encoder.encode($0) })
        }
        await send(messages)
        return inputs
    }

    /// A client message that could not be used.
    func reject(_ error: RealtimeProtocolError) async {
        await send(state.withLock { $0.encoder.encode(.error(error)) })
    }

    private func send(_ messages: [String]) async {
        for message in messages {
            do {
                try await outbound.write(.text(message))
            } catch {
                logger.debug("could not send to client", metadata: ["error.message": "\(error)"])
                return
            }
        }
    }
}

/// The client's events as engine input: the opening `start` first, then frames joined into
/// messages under the size limit, parsed and translated. Reading is on demand (the engine's
/// receive loop pulls), so a client that sends faster than the session handles its events is
/// slowed down by TCP, not buffered.
struct RealtimeSessionInput: AsyncSequence, Sendable {
    typealias Element = SessionInput

    let frames: WebSocketInboundStream
    let outbound: WebSocketOutboundWriter
    let connection: RealtimeConnection
    let limits: LimitsSection
    let quota: KeyQuota?

    func makeAsyncIterator() -> Iterator {
        Iterator(frames: frames.makeAsyncIterator(), outbound: outbound, connection: connection, limits: limits, quota: quota)
    }

    struct Iterator: AsyncIteratorProtocol {
        var messages: WebSocketMessageReader
        let connection: RealtimeConnection
        let limits: LimitsSection
        /// Inputs of the last client event not yet handed to the engine.
        var pending: [SessionInput]

        init(
            frames: WebSocketInboundStream.AsyncIterator, outbound: WebSocketOutboundWriter, connection: RealtimeConnection, limits: LimitsSection,
            quota: KeyQuota?
        ) {
            messages = WebSocketMessageReader(frames: frames, outbound: outbound, maxMessageBytes: limits.maxMessageBytes, quota: quota)
            self.connection = connection
            self.limits = limits
            pending = [connection.opening()]
        }

        mutating func next() async throws -> SessionInput? {
            while true {
                if !pending.isEmpty { return pending.removeFirst() }
                guard let message = try await messages.next() else { return nil }
                switch message {
                case .tooLarge(let bytes):
                    await connection.reject(RealtimeProtocolError(
                        code: "message_too_large",
                        "Message of \(bytes) bytes exceeds limits.max_message_bytes (\(limits.maxMessageBytes)); it was dropped. Append audio in smaller chunks."))
                case .rateLimited(let notice):
                    await connection.reject(RealtimeProtocolError(notice))
                case .binary:
                    await connection.reject(RealtimeProtocolError(
                        code: "invalid_value", "Binary messages are not part of the Realtime API; send JSON events (audio as base64)."))
                case .invalidUTF8:
                    await connection.reject(RealtimeProtocolError(code: "invalid_json", "A text message is not valid UTF-8; closing (1007)."))
                    await messages.closeInvalidUTF8()
                    return nil
                case .text(let text):
                    do {
                        pending = await connection.client(try RealtimeClientEvent.parse(text))
                    } catch {
                        await connection.reject(error)
                    }
                }
            }
        }
    }
}
