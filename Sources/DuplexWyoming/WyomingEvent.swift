import Foundation

/// One Wyoming event: a type, a JSON object of data and an optional binary payload (the
/// PCM of an `audio-chunk`).
///
/// On the wire an event is one JSON header line (`{"type": …, "data": {…}?, "data_length": N?,
/// "payload_length": N?, "version": …}` and `\n`), then `data_length` bytes of JSON merged
/// into `data`, then `payload_length` bytes of payload (see ``WyomingEventDecoder`` and
/// ``WyomingEventEncoder``).
///
/// ```swift
/// let event = WyomingEvent("synthesize", data: ["text": "Hello there."])
/// ```
public struct WyomingEvent: Sendable, Hashable {
    /// The event type, e.g. `synthesize`, `audio-chunk`.
    public var type: String
    /// The event's data (empty when it has none).
    public var data: [String: JSONValue]
    /// The binary payload (empty when it has none).
    public var payload: [UInt8]

    /// Creates an event.
    public init(_ type: String, data: [String: JSONValue] = [:], payload: [UInt8] = []) {
        self.type = type
        self.data = data
        self.payload = payload
    }

    /// The protocol version Duplex writes in the `version` field (the `wyoming` package's
    /// version whose events it implements).
    public static let protocolVersion = "1.10.2"

    /// An `error` event (`text`, `code`).
    public static func error(_ text: String, code: String) -> WyomingEvent {
        WyomingEvent("error", data: ["text": .string(text), "code": .string(code)])
    }
}

/// Why bytes could not be decoded as Wyoming events. After any of these the stream is out of
/// step (there is no way to find the next event), so the connection is closed.
public struct WyomingDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    public enum Kind: Sendable, Hashable {
        /// A header line longer than the limit (no newline within it).
        case headerTooLong(limit: Int)
        /// `data_length` over the limit.
        case dataTooLarge(length: Int, limit: Int)
        /// `payload_length` over the limit.
        case payloadTooLarge(length: Int, limit: Int)
        /// The header or the data is not UTF-8.
        case notUTF8
        /// The header line is not a JSON object with a string `type` and valid lengths.
        case malformedHeader(String)
        /// The `data_length` bytes are not a JSON object.
        case malformedData(String)
    }

    /// What was wrong.
    public var kind: Kind

    /// Creates an error.
    public init(_ kind: Kind) { self.kind = kind }

    /// Whether the event was refused for its size (rather than its form).
    public var isOversize: Bool {
        switch kind {
        case .headerTooLong, .dataTooLarge, .payloadTooLarge: true
        default: false
        }
    }

    public var description: String {
        switch kind {
        case .headerTooLong(let limit): "An event header line is longer than \(limit) bytes."
        case .dataTooLarge(let length, let limit): "An event's data_length \(length) exceeds the limit of \(limit) bytes (wyoming.max_event_bytes)."
        case .payloadTooLarge(let length, let limit): "An event's payload_length \(length) exceeds the limit of \(limit) bytes (wyoming.max_event_bytes)."
        case .notUTF8: "An event header or its data is not valid UTF-8."
        case .malformedHeader(let reason): "An event header is not valid: \(reason)."
        case .malformedData(let reason): "An event's data is not valid: \(reason)."
        }
    }
}
