/// The client protocol a WebSocket endpoint speaks over the same engine and the same
/// messages: protocol v1 on `/ws`, the original project's dialect on `/`
/// (docs/WEBSOCKET_PROTOCOL.md, "Legacy dialect on /").
///
/// The dialects differ only in how audio reaches the client: the legacy one sends it as
/// base64 `audio` JSON messages unless `start.audio_format` says otherwise, and numbers
/// those messages across the whole session instead of per reply. Everything else (client
/// messages, events, errors) is protocol v1, as nothing else of the original protocol is
/// recorded.
public enum WebSocketDialect: String, Sendable, CaseIterable {
    /// Protocol v1 (`/ws`): binary audio frames by default, `sequence` counts per reply.
    case v1
    /// The original project's clients (`/`): base64 `audio` messages by default, `sequence`
    /// counts per session, across replies.
    case legacy

    /// How audio is delivered until the client's `start` chooses.
    var defaultDelivery: ClientMessage.AudioDelivery {
        switch self {
        case .v1: .binary
        case .legacy: .base64
        }
    }

    /// The `sequence` an `audio` message carries: the reply's own count (`reply`, from 1 per
    /// reply) in v1; the session's count in the legacy dialect (`session`: audio messages
    /// sent before this one in the session).
    func sequence(reply: Int, session: Int) -> Int {
        switch self {
        case .v1: reply
        case .legacy: session + 1
        }
    }
}
