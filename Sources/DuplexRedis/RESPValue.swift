import NIOCore

/// A RESP2 value: one reply from the server (or one element of an array reply).
///
/// Bulk strings are binary-safe and kept as `ByteBuffer`; use ``string`` to read them as UTF-8.
///
/// ```swift
/// let reply = try await client.send(["INCR", "counter"])
/// if let n = reply.int { print(n) }
/// ```
public enum RESPValue: Sendable, Hashable {
    /// `+OK` and other status replies.
    case simpleString(String)
    /// `-ERR ...`: an error reply. ``RedisClient/send(_:)`` throws these as
    /// ``RedisError/Code/serverError``; ``RedisClient/sendPipelined(_:)`` returns them in place.
    case error(String)
    /// `:42`.
    case integer(Int)
    /// `$3\r\nfoo`; `nil` for the null bulk string `$-1`.
    case bulkString(ByteBuffer?)
    /// `*2\r\n...`; `nil` for the null array `*-1`.
    case array([RESPValue]?)

    /// Creates a bulk string from UTF-8 text.
    public static func bulkString(_ string: String) -> RESPValue {
        .bulkString(ByteBuffer(string: string))
    }

    /// Whether this is a null bulk string or a null array.
    public var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil): true
        default: false
        }
    }

    /// The text of a simple string or bulk string (decoded as UTF-8), otherwise `nil`.
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let buffer?): String(buffer: buffer)
        default: nil
        }
    }

    /// An integer reply, or a string reply that holds a decimal integer, otherwise `nil`.
    public var int: Int? {
        switch self {
        case .integer(let value): value
        case .simpleString, .bulkString: string.flatMap { Int($0) }
        default: nil
        }
    }

    /// The elements of a non-null array, otherwise `nil`.
    public var array: [RESPValue]? {
        if case .array(let elements?) = self { return elements }
        return nil
    }

    /// The message of an error reply, otherwise `nil`.
    public var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }
}

extension RESPValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .simpleString(let text): "+\(text)"
        case .error(let message): "-\(message)"
        case .integer(let value): ":\(value)"
        case .bulkString(nil): "$nil"
        case .bulkString(let buffer?): "$\"\(String(buffer: buffer))\""
        case .array(nil): "*nil"
        case .array(let elements?): "[" + elements.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
