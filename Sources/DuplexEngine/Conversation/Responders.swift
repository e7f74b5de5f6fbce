import DuplexConfig
import DuplexCore

/// Builds the responder named by `conversation.responder`.
public enum Responders {
    /// `echo`, or `llm` (an OpenAI-compatible endpoint, `llm:` settings), checked: a server
    /// with a bad `llm:` or `conversation:` section refuses to start, naming the key.
    /// - Throws: ``DuplexError`` (`invalidConfiguration`).
    public static func make(_ configuration: DuplexConfiguration) throws(DuplexError) -> any Responder {
        try configuration.conversation.validate()
        switch configuration.conversation.responder {
        case "llm": return try LLMResponder(configuration.llm)
        default: return EchoResponder()
        }
    }
}
