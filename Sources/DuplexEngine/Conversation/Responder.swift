import DuplexConfig
import DuplexCore

/// One message of a conversation's history.
public struct HistoryMessage: Sendable, Hashable {
    /// Who said it.
    public enum Role: String, Sendable, Hashable {
        case user, assistant
    }

    /// Who said it.
    public var role: Role
    /// What was said (for the assistant: what the user heard of it).
    public var text: String

    /// Creates a message.
    public init(role: Role, text: String) {
        self.role = role
        self.text = text
    }
}

/// Produces the text of a reply, as a stream of pieces (tokens, words or the whole text),
/// given the conversation so far (ending with the user's new turn).
public protocol Responder: Sendable {
    /// Streams the reply's text pieces; cancelling the consuming task cancels the request.
    func reply(to history: [HistoryMessage]) -> AsyncThrowingStream<String, any Error>
    /// Streams the reply's text pieces following the session's `instructions` (a system
    /// prompt) instead of the configured ones.
    func reply(to history: [HistoryMessage], instructions: String) -> AsyncThrowingStream<String, any Error>
    /// Whether the responder follows instructions (an LLM does; the echo cannot).
    var followsInstructions: Bool { get }
    /// Whether its replies cost LLM tokens (`quotas.llm_tokens_per_min` applies).
    var spendsTokens: Bool { get }
}

extension Responder {
    /// Responders without a prompt ignore the instructions.
    public func reply(to history: [HistoryMessage], instructions: String) -> AsyncThrowingStream<String, any Error> {
        reply(to: history)
    }

    /// Responders without a prompt ignore instructions.
    public var followsInstructions: Bool { false }

    /// Responders that follow instructions are LLMs, which spend tokens.
    public var spendsTokens: Bool { followsInstructions }
}

/// Speaks back what the user said (the default; works offline).
public struct EchoResponder: Responder {
    /// Creates the responder.
    public init() {}

    /// One piece: the user's last message.
    public func reply(to history: [HistoryMessage]) -> AsyncThrowingStream<String, any Error> {
        let text = history.last { $0.role == .user }?.text ?? ""
        return AsyncThrowingStream { continuation in
            continuation.yield(text)
            continuation.finish()
        }
    }
}
