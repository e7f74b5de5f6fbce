/// One event of a `text/event-stream` (server-sent events) response.
public struct ServerSentEvent: Sendable, Hashable {
    /// The `event:` field; nil for the default type (`message`).
    public var event: String?
    /// The `data:` lines joined with `\n`.
    public var data: String
    /// The last `id:` field seen so far in the stream, if any.
    public var id: String?
    /// The `retry:` field in milliseconds, if this event had a valid one.
    public var retry: Int?

    /// Creates an event.
    public init(event: String? = nil, data: String, id: String? = nil, retry: Int? = nil) {
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry
    }
}
