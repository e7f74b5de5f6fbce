import DuplexCore
import Logging
import NIOCore

/// Writes events to one connection. Each event is written as one buffer, so events written
/// by different tasks (the engine's audio, the connection's answers) never interleave.
/// Write failures are logged and ignored: a client that went away ends its connection
/// through the read side.
struct WyomingEventWriter: Sendable {
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let logger: Logger

    func write(_ event: WyomingEvent) async {
        do {
            try await outbound.write(ByteBuffer(bytes: WyomingEventEncoder.encode(event)))
        } catch {
            logger.debug("could not send to the Wyoming client", metadata: ["error.message": "\(error)"])
        }
    }

    /// Writes a ``DuplexError`` as an `error` event (`code` is the Duplex error code).
    func write(_ error: DuplexError) async {
        await write(.error(error.message, code: error.code.rawValue))
    }
}
