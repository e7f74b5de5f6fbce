import HummingbirdWebSocket
import NIOCore
import NIOWebSocket

/// A client's WebSocket messages, read on demand: frames joined under the size limit
/// (``WebSocketMessageAssembler``), text checked as UTF-8. A frame sequence that breaks
/// RFC 6455 closes the connection (1002) and ends the messages. Every adapter that speaks
/// JSON over a WebSocket (protocol v1, the Realtime API) reads its client through this.
struct WebSocketMessageReader {
    /// One message.
    enum Message {
        /// A text message, valid UTF-8.
        case text(String)
        /// A binary message.
        case binary(ByteBuffer)
        /// A message over the limit (dropped), with its size.
        case tooLarge(bytes: Int)
        /// A text message that is not UTF-8: answer with the protocol's error, then
        /// ``closeInvalidUTF8()`` (RFC 6455 §8.1).
        case invalidUTF8
    }

    private var frames: WebSocketInboundStream.AsyncIterator
    private let outbound: WebSocketOutboundWriter
    private var assembler: WebSocketMessageAssembler

    init(frames: WebSocketInboundStream.AsyncIterator, outbound: WebSocketOutboundWriter, maxMessageBytes: Int) {
        self.frames = frames
        self.outbound = outbound
        assembler = WebSocketMessageAssembler(maxBytes: maxMessageBytes)
    }

    /// The next message; nil when the client closed (or broke the framing rules).
    mutating func next() async throws -> Message? {
        while let frame = try await frames.next() {
            let opcode: WebSocketMessageAssembler.Opcode =
                switch frame.opcode {
                case .text: .text
                case .binary: .binary
                case .continuation: .continuation
                }
            let message: WebSocketMessageAssembler.Output?
            do {
                message = try assembler.append(opcode, frame.data, fin: frame.fin)
            } catch {
                try? await outbound.close(.protocolError, reason: error.reason)
                return nil
            }
            switch message {
            case nil: continue
            case .tooLarge(let bytes): return .tooLarge(bytes: bytes)
            case .binary(let buffer): return .binary(buffer)
            case .text(let buffer):
                guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else { return .invalidUTF8 }
                return .text(text)
            }
        }
        return nil
    }

    /// Fails the connection for text that is not UTF-8 (1007).
    func closeInvalidUTF8() async {
        try? await outbound.close(.dataInconsistentWithMessage, reason: "invalid UTF-8")
    }
}
