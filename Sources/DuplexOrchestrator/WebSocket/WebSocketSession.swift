import DuplexConfig
import DuplexCore
import DuplexEngine
import Foundation
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// WebSocket protocol v1 (and its legacy dialect) as a thin adapter over the conversation
/// engine: client messages are parsed into ``SessionInput`` (bad ones are answered with a
/// typed `error` and skipped), engine events are encoded as v1 messages. The adapter holds
/// no session state but the audio delivery format, which is the v1 encoding's own option,
/// and the legacy dialect's audio message counter.
enum WebSocketSession {
    /// Serves one upgraded connection until the client closes it.
    static func serve<C: Clock & Sendable>(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, engine: SessionEngine<C>, limits: LimitsSection,
        dialect: WebSocketDialect = .v1, logger: Logger
    ) async where C.Duration == Duration {
        let writer = WebSocketEventWriter(outbound: outbound, dialect: dialect, logger: logger)
        let input = WebSocketSessionInput(frames: inbound, outbound: outbound, writer: writer, limits: limits, quota: engine.quota)
        await engine.run(input, output: writer)
    }
}

/// Writes engine events as v1 messages (in the connection's dialect).
final class WebSocketEventWriter: SessionOutput {
    private struct Encoding {
        var delivery: ClientMessage.AudioDelivery
        /// Audio messages sent so far in the session (the legacy dialect's `sequence`).
        var audioSent = 0
    }

    private let outbound: WebSocketOutboundWriter
    private let dialect: WebSocketDialect
    private let logger: Logger
    private let encoding: Mutex<Encoding>

    init(outbound: WebSocketOutboundWriter, dialect: WebSocketDialect = .v1, logger: Logger) {
        self.outbound = outbound
        self.dialect = dialect
        self.logger = logger
        encoding = Mutex(Encoding(delivery: dialect.defaultDelivery))
    }

    /// The client chose how audio is delivered (`start.audio_format`).
    func setDelivery(_ format: ClientMessage.AudioDelivery) {
        encoding.withLock { $0.delivery = format }
    }

    func write(_ event: SessionEvent) async {
        var event = event
        let isAudio = if case .audio = event { true } else { false }
        // Frames come from the session's one playback task, in order, so the count follows
        // the order they are written in.
        let (format, audioSent) = encoding.withLock { encoding in
            defer { if isAudio { encoding.audioSent += 1 } }
            return (encoding.delivery, encoding.audioSent)
        }
        if case .audio(let turnID, let pcm, let sequence) = event {
            event = .audio(turnID: turnID, pcm: pcm, sequence: dialect.sequence(reply: sequence, session: audioSent))
        }
        do {
            if case .audio(_, let pcm, _) = event, format == .binary {
                try await outbound.write(.binary(ByteBuffer(bytes: pcm)))
            } else {
                try await outbound.write(.text(event.webSocketJSON(audioFormat: format, dialect: dialect)))
            }
        } catch {
            logger.debug("could not send to client", metadata: ["error.message": "\(error)"])
        }
    }
}

/// The client's messages as engine input: frames joined into messages under the size limit,
/// then parsed. Reading is on demand (the engine's receive loop pulls), so a client that
/// sends faster than the session handles its messages is slowed down by TCP, not buffered.
struct WebSocketSessionInput: AsyncSequence, Sendable {
    typealias Element = SessionInput

    let frames: WebSocketInboundStream
    let outbound: WebSocketOutboundWriter
    let writer: WebSocketEventWriter
    let limits: LimitsSection
    let quota: KeyQuota?

    func makeAsyncIterator() -> Iterator {
        Iterator(frames: frames.makeAsyncIterator(), outbound: outbound, writer: writer, limits: limits, quota: quota)
    }

    struct Iterator: AsyncIteratorProtocol {
        var messages: WebSocketMessageReader
        let writer: WebSocketEventWriter
        let limits: LimitsSection

        init(
            frames: WebSocketInboundStream.AsyncIterator, outbound: WebSocketOutboundWriter, writer: WebSocketEventWriter, limits: LimitsSection,
            quota: KeyQuota?
        ) {
            messages = WebSocketMessageReader(frames: frames, outbound: outbound, maxMessageBytes: limits.maxMessageBytes, quota: quota)
            self.writer = writer
            self.limits = limits
        }

        mutating func next() async throws -> SessionInput? {
            while let message = try await messages.next() {
                switch message {
                case .tooLarge(let bytes):
                    await writer.write(.error(DuplexError(
                        .messageTooLarge,
                        "Message of \(bytes) bytes exceeds limits.max_message_bytes (\(limits.maxMessageBytes)); it was dropped.")))
                case .rateLimited(let notice):
                    await writer.write(.error(notice))
                case .binary(let buffer):
                    return .audio(Data(buffer.readableBytesView))
                case .invalidUTF8:
                    await writer.write(.error(DuplexError(.invalidMessage, "A text message is not valid UTF-8; closing (1007).")))
                    await messages.closeInvalidUTF8()
                    return nil
                case .text(let text):
                    do {
                        let parsed = try ClientMessage.parse(text, maxTextCharacters: limits.maxTextChars)
                        if case .start(let options) = parsed, let format = options.audioFormat { writer.setDelivery(format) }
                        return parsed.input
                    } catch {
                        await writer.write(.error(error))
                    }
                }
            }
            return nil
        }
    }
}
