/// An incremental parser for `text/event-stream` bodies, following the WHATWG
/// server-sent events rules.
///
/// Feed it bytes as they arrive from the network, in chunks split anywhere (even inside a
/// `\r\n` or a multi-byte character); it returns the events completed by each chunk. Lines
/// end with `\r\n`, `\n` or `\r`; lines starting with `:` are comments; several `data:`
/// lines make one event whose data are joined with `\n`; a blank line ends an event.
///
/// ```swift
/// var parser = SSEParser()
/// for try await buffer in response.body {
///     for event in try parser.feed(buffer.readableBytesView) { handle(event.data) }
/// }
/// if let last = parser.finish() { handle(last.data) }
/// ```
public struct SSEParser: Sendable {
    /// The longest line or event (in bytes) accepted before ``feed(_:)`` throws; bounds the
    /// memory a misbehaving server can make us hold.
    public let maximumEventBytes: Int

    private var line: [UInt8] = []
    private var lastByteWasCR = false
    private var atStreamStart = true
    private var data: String = ""
    private var hasData = false
    private var eventType: String?
    private var retry: Int?
    private var lastEventID: String?

    /// Creates a parser that rejects lines or events longer than `maximumEventBytes`.
    public init(maximumEventBytes: Int = 1 << 20) {
        self.maximumEventBytes = maximumEventBytes
    }

    /// Parses `bytes` and returns the events they complete, in order.
    ///
    /// Throws ``DuplexLLMError/Code/llmBadStream`` when a line or event is longer than
    /// ``maximumEventBytes``.
    public mutating func feed<Bytes: Sequence<UInt8>>(_ bytes: Bytes) throws(DuplexLLMError) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\n"):
                if lastByteWasCR {
                    lastByteWasCR = false  // the \n of a \r\n: the line already ended at \r
                } else {
                    try endLine(into: &events)
                }
            case UInt8(ascii: "\r"):
                try endLine(into: &events)
                lastByteWasCR = true
            default:
                lastByteWasCR = false
                line.append(byte)
                if line.count > maximumEventBytes { throw tooLong() }
            }
        }
        return events
    }

    /// Ends the stream: an unterminated last line is processed and a pending event that has
    /// data is returned. (The standard drops such an event; servers that omit the final blank
    /// line are common enough to be lenient.)
    public mutating func finish() -> ServerSentEvent? {
        var events: [ServerSentEvent] = []
        if !line.isEmpty { try? endLine(into: &events) }
        try? endLine(into: &events)  // a blank line dispatches what is pending
        return events.first
    }

    private mutating func endLine(into events: inout [ServerSentEvent]) throws(DuplexLLMError) {
        defer { line.removeAll(keepingCapacity: true) }
        if atStreamStart {
            atStreamStart = false
            if line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }  // UTF-8 byte order mark
        }
        guard !line.isEmpty else {
            dispatch(into: &events)
            return
        }
        if line[0] == UInt8(ascii: ":") { return }  // comment, e.g. a keep-alive

        let field: Substring
        var value: Substring
        let text = String(decoding: line, as: UTF8.self)
        if let colon = text.firstIndex(of: ":") {
            field = text[..<colon]
            value = text[text.index(after: colon)...]
            if value.first == " " { value.removeFirst() }
        } else {
            field = text[...]
            value = ""
        }
        switch field {
        case "data":
            if hasData { data.append("\n") }
            data.append(contentsOf: value)
            hasData = true
            if data.utf8.count > maximumEventBytes { throw tooLong() }
        case "event":
            eventType = String(value)
        case "id":
            if !value.contains("\0") { lastEventID = String(value) }
        case "retry":
            if !value.isEmpty, value.allSatisfy(\.isASCIIDigit), let milliseconds = Int(value) { retry = milliseconds }
        default:
            break  // unknown fields are ignored
        }
    }

    private mutating func dispatch(into events: inout [ServerSentEvent]) {
        defer {
            data = ""
            hasData = false
            eventType = nil
            retry = nil
        }
        guard hasData else { return }
        let type = eventType.flatMap { $0.isEmpty ? nil : $0 }
        events.append(ServerSentEvent(event: type, data: data, id: lastEventID, retry: retry))
    }

    private func tooLong() -> DuplexLLMError {
        DuplexLLMError(
            .llmBadStream,
            "An event-stream line or event is longer than \(maximumEventBytes) bytes; the server is not sending a valid chat-completions stream.")
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
