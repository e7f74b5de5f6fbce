import DuplexCore
import DuplexEngine
import Synchronization

/// A responder a test drives piece by piece: each turn's request is recorded, and its reply
/// streams only what the test sends.
///
/// ```swift
/// let request = await responder.waitForRequest(1)
/// request.send("Sure. ")
/// request.finish()
/// ```
public final class ScriptedResponder: Responder {
    /// Requests made, in order.
    public let requests = Observed<[ScriptedReplyRequest]>([])

    /// Creates the responder.
    public init() {}

    public func reply(to history: [HistoryMessage]) -> AsyncThrowingStream<String, any Error> {
        record(history, instructions: nil)
    }

    /// Records the session's instructions with the request.
    public func reply(to history: [HistoryMessage], instructions: String) -> AsyncThrowingStream<String, any Error> {
        record(history, instructions: instructions)
    }

    /// It takes instructions (and records them).
    public var followsInstructions: Bool { true }

    private func record(_ history: [HistoryMessage], instructions: String?) -> AsyncThrowingStream<String, any Error> {
        let (stream, continuation) = AsyncThrowingStream<String, any Error>.makeStream()
        let request = ScriptedReplyRequest(history: history, instructions: instructions, continuation: continuation)
        continuation.onTermination = { _ in request.closed() }
        requests.update { $0.append(request) }
        return stream
    }

    /// Waits for the `n`-th request (1-based).
    public func waitForRequest(_ n: Int) async -> ScriptedReplyRequest {
        await requests.wait { $0.count >= n }![n - 1]
    }

    /// Requests whose stream the engine has not closed yet.
    public var open: Int { requests.value.filter { !$0.isClosed }.count }
}

/// One turn's request to a ``ScriptedResponder``.
public final class ScriptedReplyRequest: Sendable {
    /// The history the engine sent.
    public let history: [HistoryMessage]
    /// The session's instructions, when it set any.
    public let instructions: String?
    private let continuation: AsyncThrowingStream<String, any Error>.Continuation
    /// Whether the engine closed (consumed to the end, or cancelled) the stream.
    public let closedState = Observed(false)

    init(history: [HistoryMessage], instructions: String?, continuation: AsyncThrowingStream<String, any Error>.Continuation) {
        self.history = history
        self.instructions = instructions
        self.continuation = continuation
    }

    /// Streams a piece of the reply.
    public func send(_ piece: String) { continuation.yield(piece) }
    /// Ends the reply.
    public func finish() { continuation.finish() }
    /// Fails the reply.
    public func fail(_ error: DuplexError) { continuation.finish(throwing: error) }
    /// Whether the stream was closed.
    public var isClosed: Bool { closedState.value }
    /// Waits until the engine closes the stream.
    public func waitUntilClosed() async { await closedState.wait { $0 } }

    func closed() { closedState.update { $0 = true } }
}
