import NIOCore

/// What the connection writes into the pipeline.
enum RedisRequest {
    /// One or more encoded commands, answered in order by one reply each.
    case commands(ByteBuffer, [EventLoopPromise<RESPValue>])
    /// An encoded `SUBSCRIBE`: from then on every inbound value is a push and goes to the sink.
    case subscribe(ByteBuffer, AsyncStream<RESPValue>.Continuation)

    func fail(_ error: RedisError) {
        switch self {
        case .commands(_, let promises): promises.forEach { $0.fail(error) }
        case .subscribe(_, let sink): sink.finish()
        }
    }
}

/// Matches replies to commands through a FIFO of promises (Redis answers in order, which makes
/// pipelining free), enforces the command timeout, and fails everything in flight once the
/// connection is unusable.
///
/// A timeout closes the connection: later replies could no longer be matched to their commands.
/// Runs entirely on the channel's event loop.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        let promise: EventLoopPromise<RESPValue>
        let deadline: NIODeadline
    }

    private let commandTimeout: TimeAmount
    private var pending = CircularBuffer<Pending>(initialCapacity: 16)
    private var pushSink: AsyncStream<RESPValue>.Continuation?
    /// Set once the connection can no longer be used; new requests fail with it at once.
    private var failure: RedisError?
    /// At most one timer, armed for the oldest pending command (deadlines are FIFO-ordered).
    private var timer: Scheduled<Void>?

    init(commandTimeout: TimeAmount) {
        self.commandTimeout = commandTimeout
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = Self.unwrapOutboundIn(data)
        if let failure {
            request.fail(failure)
            promise?.fail(failure)
            return
        }
        switch request {
        case .commands(let bytes, let promises):
            let deadline = NIODeadline.now() + commandTimeout
            for responsePromise in promises {
                pending.append(Pending(promise: responsePromise, deadline: deadline))
            }
            armTimer(context: context)
            context.write(Self.wrapOutboundOut(bytes), promise: promise)
        case .subscribe(let bytes, let sink):
            pushSink = sink
            context.write(Self.wrapOutboundOut(bytes), promise: promise)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = Self.unwrapInboundIn(data)
        if let pushSink {
            pushSink.yield(value)
            return
        }
        guard let head = pending.popFirst() else {
            fail(RedisError(.protocolError, "Redis sent a reply while no command was in flight: \(value)"), context: context)
            return
        }
        head.promise.succeed(value)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(failure ?? RedisError(.connectionClosed, "The connection to Redis closed; the command may or may not have run."), context: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(RedisError.wrapping(error, as: .connectionClosed, "The connection to Redis failed."), context: context)
    }

    /// Fails everything in flight and closes the channel (unless it is already inactive).
    private func fail(_ error: RedisError, context: ChannelHandlerContext?) {
        if failure == nil { failure = error }
        timer?.cancel()
        timer = nil
        let failed = pending
        pending.removeAll()
        for entry in failed { entry.promise.fail(error) }
        pushSink?.finish()
        pushSink = nil
        context?.close(promise: nil)
    }

    private func armTimer(context: ChannelHandlerContext) {
        guard timer == nil, let head = pending.first else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: head.deadline) { [self] in
            self.timer = nil
            self.timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        guard let head = pending.first else { return }
        if head.deadline <= .now() {
            let timeout = RedisError(
                .timeout,
                "Redis did not answer within \(commandTimeout.nanoseconds / 1_000_000) ms; the connection was closed. Check the server's load or raise commandTimeout.")
            fail(timeout, context: context)
        } else {
            armTimer(context: context)
        }
    }
}
