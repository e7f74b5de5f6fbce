import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexProto
import Foundation
import Logging
import NIOCore
import ServiceLifecycle

/// One Wyoming client connection, as three tasks of one group that end together:
///
/// - the **reader** decodes the socket's bytes into events and posts them to the lane (a
///   malformed or oversize event is answered with `error` and closes the connection);
/// - the **lane** runs the ``WyomingConnectionState`` machine over the client's events and
///   the engine's answers, one at a time, and performs its actions (describe, voice, text,
///   transcription on the shared ASR executor);
/// - the **engine** (a ``SessionEngine`` in `tts` mode, started by the first synthesis) speaks
///   the text with the same routing, voices, segmentation and failover as the WebSocket; its
///   frames go straight to the socket through ``WyomingSpeechOutput``.
///
/// The client closing the socket ends all three at once (a reply in progress is stopped and
/// its worker session released); a graceful shutdown lets the request in progress finish.
struct WyomingConnection: Sendable {
    let id: String
    let context: WyomingServer.Context
    let logger: Logger

    func run(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let connection = channel.channel
        do {
            try await channel.executeThenClose { inbound, outbound in
                let writer = WyomingEventWriter(outbound: outbound, logger: logger)
                let lane = AsyncBoundedQueue<WyomingConnectionInput>(capacity: 32)
                let (input, feed) = AsyncStream<SessionInput>.makeStream()
                let output = WyomingSpeechOutput(writer: writer, lane: lane)
                let engineWanted = AsyncSignal()
                let engine = SessionEngine(
                    id: id, configuration: context.session, pool: context.pool, speech: nil, responder: EchoResponder(),
                    clock: ContinuousClock(), logger: logger, probe: context.probe)
                await withGracefulShutdownHandler {
                    await withDiscardingTaskGroup { group in
                        group.addTask {
                            // The engine opens a worker session, so it starts only when a
                            // synthesis needs it (describe- or transcribe-only clients never do).
                            await engineWanted.wait()
                            guard !Task.isCancelled else { return }
                            await engine.run(input, output: output)
                        }
                        let runner = WyomingConnectionLane(
                            queue: lane, context: context, writer: writer, engine: feed, engineWanted: engineWanted, output: output,
                            close: { connection.close(promise: nil) }, logger: logger)
                        group.addTask { await runner.run() }
                        await read(inbound, into: lane, writer: writer)
                        feed.finish()
                        lane.finish()
                        group.cancelAll()
                    }
                } onGracefulShutdown: {
                    if !lane.trySend(.drain) { connection.close(promise: nil) }
                }
            }
        } catch {
            logger.debug("Wyoming connection ended", metadata: ["error.message": "\(error)"])
        }
    }

    /// Decodes events until the client closes the connection or sends something invalid.
    private func read(
        _ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, into lane: AsyncBoundedQueue<WyomingConnectionInput>, writer: WyomingEventWriter
    ) async {
        var decoder = WyomingEventDecoder(limits: context.limits)
        do {
            for try await buffer in inbound {
                decoder.feed(buffer.readableBytesView)
                while let event = try decoder.next() {
                    try await lane.send(.client(event))
                }
            }
        } catch let error as WyomingDecodingError {
            logger.info("closing a Wyoming connection after invalid input", metadata: ["error.message": "\(error)"])
            await writer.write(DuplexError(
                error.isOversize ? .messageTooLarge : .invalidMessage, "\(error.description) The connection is closed."))
        } catch {
            logger.debug("Wyoming client input ended", metadata: ["error.message": "\(error)"])
        }
    }
}
