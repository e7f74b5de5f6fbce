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

/// A session's conversation history, bounded to the most recent messages.
struct ConversationHistory: Sendable {
    private(set) var messages: [HistoryMessage] = []
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    mutating func append(_ message: HistoryMessage) {
        messages.append(message)
        if messages.count > limit { messages.removeFirst(messages.count - limit) }
    }

    /// Replaces the text of the latest assistant message (the reply was interrupted: only
    /// what the user heard stays); removes it when nothing was heard.
    mutating func truncateLastReply(to heard: String) {
        guard let index = messages.lastIndex(where: { $0.role == .assistant }) else { return }
        if heard.isEmpty { messages.remove(at: index) } else { messages[index].text = heard }
    }
}

/// Builds the responder named by `conversation.responder`.
public enum Responders {
    /// `echo`, or `llm` (an OpenAI-compatible endpoint, `llm:` settings). An invalid `llm:`
    /// configuration gives a responder that reports the problem on every turn; call
    /// ``validate(_:)`` at startup to refuse it early.
    public static func make(_ configuration: DuplexConfiguration) -> any Responder {
        switch configuration.conversation.responder {
        case "llm":
            do {
                return try LLMResponder(configuration.llm)
            } catch {
                return FailingResponder(error: error)
            }
        default:
            return EchoResponder()
        }
    }

    /// Checks the responder's settings.
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) naming the bad `llm.` key.
    public static func validate(_ configuration: DuplexConfiguration) throws(DuplexError) {
        if configuration.conversation.responder == "llm" { _ = try LLMResponder(configuration.llm) }
    }
}

/// Reports a configuration problem on every turn.
struct FailingResponder: Responder {
    let error: DuplexError

    func reply(to history: [HistoryMessage]) -> AsyncThrowingStream<String, any Error> {
        AsyncThrowingStream { $0.finish(throwing: error) }
    }
}
