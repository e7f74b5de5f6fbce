import NIOCore

/// Joins WebSocket data frames into messages, enforcing the message size limit at the edge:
/// a message (text or binary, in one frame or fragmented) larger than `maxBytes` is not
/// buffered past the limit; its remaining frames are discarded as they arrive and it is
/// reported as ``Output/tooLarge(bytes:)`` once complete, so the session answers
/// `MESSAGE_TOO_LARGE` and goes on.
struct WebSocketMessageAssembler {
    /// The largest message accepted.
    let maxBytes: Int

    /// A frame's kind.
    enum Opcode: Sendable {
        case text, binary, continuation
    }

    /// What a frame completed.
    enum Output: Equatable {
        /// A text message (bytes, not yet checked as UTF-8).
        case text(ByteBuffer)
        /// A binary message.
        case binary(ByteBuffer)
        /// A message over the limit, with its full size.
        case tooLarge(bytes: Int)
    }

    /// A frame sequence that breaks RFC 6455 (the connection must close with 1002).
    struct ProtocolViolation: Error, Equatable {
        var reason: String
    }

    private enum State {
        case idle
        case collecting(isText: Bool, ByteBuffer)
        case discarding(bytes: Int)
    }

    private var state = State.idle

    init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    /// Takes one data frame; returns the message it completed, if any.
    mutating func append(_ opcode: Opcode, _ data: ByteBuffer, fin: Bool) throws(ProtocolViolation) -> Output? {
        switch (opcode, state) {
        case (.text, .idle), (.binary, .idle):
            let isText = opcode == .text
            if data.readableBytes > maxBytes {
                return discard(data.readableBytes, fin: fin)
            }
            if fin { return isText ? .text(data) : .binary(data) }
            state = .collecting(isText: isText, data)
            return nil
        case (.continuation, .collecting(let isText, var buffer)):
            let total = buffer.readableBytes + data.readableBytes
            if total > maxBytes {
                state = .idle
                return discard(total, fin: fin)
            }
            var data = data
            buffer.writeBuffer(&data)
            if fin {
                state = .idle
                return isText ? .text(buffer) : .binary(buffer)
            }
            state = .collecting(isText: isText, buffer)
            return nil
        case (.continuation, .discarding(let bytes)):
            return discard(bytes + data.readableBytes, fin: fin)
        case (.continuation, .idle):
            throw ProtocolViolation(reason: "A continuation frame without a message to continue.")
        case (.text, _), (.binary, _):
            throw ProtocolViolation(reason: "A new message began before the previous one ended.")
        }
    }

    private mutating func discard(_ bytes: Int, fin: Bool) -> Output? {
        if fin {
            state = .idle
            return .tooLarge(bytes: bytes)
        }
        state = .discarding(bytes: bytes)
        return nil
    }

    /// The largest single frame the server accepts: frames are buffered whole by the
    /// WebSocket decoder before the assembler sees them, so this bounds memory per
    /// connection; a bigger frame closes the connection (1009). Messages between
    /// `max_message_bytes` and this size (or bigger ones sent fragmented) get
    /// `MESSAGE_TOO_LARGE` instead.
    static func frameLimit(maxMessageBytes: Int) -> Int {
        min(64 << 20, max(4 * maxMessageBytes, 8 << 20))
    }
}
