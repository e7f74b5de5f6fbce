import DuplexCore
import DuplexEngine
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
        /// Messages over the key's `quotas.messages_per_s` were dropped: answer with the
        /// protocol's error (at most once a second; the drops between are silent).
        case rateLimited(DuplexError)
    }

    private var frames: WebSocketInboundStream.AsyncIterator
    private let outbound: WebSocketOutboundWriter
    private var assembler: WebSocketMessageAssembler
    private let quota: KeyQuota?
    /// When the client was last told it sends too fast.
    private var lastNotice: Duration?

    init(frames: WebSocketInboundStream.AsyncIterator, outbound: WebSocketOutboundWriter, maxMessageBytes: Int, quota: KeyQuota? = nil) {
        self.frames = frames
        self.outbound = outbound
        self.quota = quota
        assembler = WebSocketMessageAssembler(maxBytes: maxMessageBytes)
    }

    /// Nil when the message may be handled; the notice to send, or `.some(nil)` to drop it
    /// silently, when the key is over its message rate.
    private mutating func overRate() -> DuplexError?? {
        guard let quota, let refusal = quota.takeMessage() else { return nil }
        let now = quota.time
        if let last = lastNotice, now - last < .seconds(1) { return .some(nil) }
        lastNotice = now
        return .some(refusal)
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
            if message != nil, let over = overRate() {
                if let notice = over { return .rateLimited(notice) }
                continue
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
