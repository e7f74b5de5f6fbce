/// One message of a chat conversation, as sent to an OpenAI-compatible server.
///
/// ```swift
/// let history: [ChatMessage] = [.user("Hello"), .assistant("Hi! How can I"), .user("What time is it?")]
/// ```
public struct ChatMessage: Sendable, Hashable, Codable {
    /// Who wrote a message.
    public enum Role: String, Sendable, Hashable, Codable {
        /// Instructions for the model.
        case system
        /// The person talking to Duplex.
        case user
        /// The model (what Duplex said, possibly truncated by a barge-in).
        case assistant
    }

    /// Who wrote it.
    public var role: Role
    /// The text.
    public var content: String

    /// Creates a message.
    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }

    /// A system message.
    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: .system, content: content) }
    /// A user message.
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: .user, content: content) }
    /// An assistant message.
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: .assistant, content: content) }
}
