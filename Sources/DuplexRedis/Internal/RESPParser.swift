import NIOCore

/// An incremental RESP2 parser.
///
/// ``parse(_:)`` consumes one complete value from the front of the buffer, or consumes nothing
/// and returns `nil` when the buffer holds only part of a value (call again after more bytes
/// arrive). A partial value is re-parsed from its start on the next call; that is linear in
/// the value's size per read, which is fine for registry-sized replies.
struct RESPParser {
    /// Arrays nested deeper than this are rejected instead of recursing without bound.
    static let maximumDepth = 64
    /// A status/error/integer line longer than this without a CRLF is rejected.
    static let maximumLineLength = 64 * 1024
    /// Redis' own limit for a bulk string (proto-max-bulk-len default).
    static let maximumBulkLength = 512 * 1024 * 1024

    /// Parses one value, or returns `nil` (consuming nothing) if the buffer holds an incomplete value.
    /// - Throws: ``RedisError/Code/protocolError`` for bytes that are not RESP2. The buffer's
    ///   reader index is left where it was; the connection should be closed.
    func parse(_ buffer: inout ByteBuffer) throws(RedisError) -> RESPValue? {
        let start = buffer.readerIndex
        let value: RESPValue?
        do {
            value = try Self.parseValue(&buffer, depth: 0)
        } catch {
            buffer.moveReaderIndex(to: start)
            throw error
        }
        if value == nil { buffer.moveReaderIndex(to: start) }
        return value
    }

    private static let typeBytes: Set<UInt8> = Set("+-:$*".utf8)

    private static func parseValue(_ buffer: inout ByteBuffer, depth: Int) throws(RedisError) -> RESPValue? {
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        guard Self.typeBytes.contains(type) else {
            throw RedisError(.protocolError, "Unknown RESP type byte 0x\(String(type, radix: 16)); the peer is not a RESP2 server.")
        }
        guard let line = try readLine(&buffer) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return .simpleString(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"):
            return .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            return .integer(try integer(line, kind: "integer"))
        case UInt8(ascii: "$"):
            let length = try integer(line, kind: "bulk string length")
            if length == -1 { return .bulkString(nil) }
            guard (0...maximumBulkLength).contains(length) else {
                throw RedisError(.protocolError, "Invalid RESP bulk string length \(length).")
            }
            guard buffer.readableBytes >= length + 2 else { return nil }
            let payload = buffer.readSlice(length: length)!
            let terminator = buffer.readBytes(length: 2)!
            guard terminator == [UInt8(ascii: "\r"), UInt8(ascii: "\n")] else {
                throw RedisError(.protocolError, "RESP bulk string of length \(length) is not followed by CRLF.")
            }
            return .bulkString(payload)
        case UInt8(ascii: "*"):
            let count = try integer(line, kind: "array length")
            if count == -1 { return .array(nil) }
            guard count >= 0 else { throw RedisError(.protocolError, "Invalid RESP array length \(count).") }
            guard depth < maximumDepth else {
                throw RedisError(.protocolError, "RESP arrays nested deeper than \(maximumDepth) levels.")
            }
            var elements: [RESPValue] = []
            // Never trust the announced count for allocation: it may be huge or a lie.
            elements.reserveCapacity(min(count, 1024))
            for _ in 0..<count {
                guard let element = try parseValue(&buffer, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        default:
            preconditionFailure("type byte was validated above")
        }
    }

    /// Reads the line after the type byte up to CRLF, or returns `nil` if no CRLF has arrived yet.
    private static func readLine(_ buffer: inout ByteBuffer) throws(RedisError) -> [UInt8]? {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > maximumLineLength {
                throw RedisError(.protocolError, "RESP line longer than \(maximumLineLength) bytes without CRLF.")
            }
            return nil
        }
        // view indices are absolute buffer indices; the line is [type byte][content]\r\n.
        let lineStart = view.startIndex + 1
        guard newline > view.startIndex, view[newline - 1] == UInt8(ascii: "\r"), newline - 1 >= lineStart else {
            throw RedisError(.protocolError, "RESP line is not terminated by CRLF.")
        }
        let content = Array(view[lineStart..<(newline - 1)])
        buffer.moveReaderIndex(to: newline + 1)
        return content
    }

    private static func integer(_ bytes: [UInt8], kind: String) throws(RedisError) -> Int {
        guard let value = Int(String(decoding: bytes, as: UTF8.self)) else {
            throw RedisError(.protocolError, "Invalid RESP \(kind) '\(String(decoding: bytes.prefix(32), as: UTF8.self))'.")
        }
        return value
    }
}

/// Encodes commands as RESP2 arrays of bulk strings, the form Redis expects from clients.
enum RESPEncoder {
    static func encode(_ command: [String], into buffer: inout ByteBuffer) {
        buffer.writeString("*\(command.count)\r\n")
        for argument in command {
            buffer.writeString("$\(argument.utf8.count)\r\n")
            buffer.writeString(argument)
            buffer.writeString("\r\n")
        }
    }

    static func encode(_ value: RESPValue, into buffer: inout ByteBuffer) {
        switch value {
        case .simpleString(let text): buffer.writeString("+\(text)\r\n")
        case .error(let message): buffer.writeString("-\(message)\r\n")
        case .integer(let number): buffer.writeString(":\(number)\r\n")
        case .bulkString(nil): buffer.writeString("$-1\r\n")
        case .bulkString(let payload?):
            buffer.writeString("$\(payload.readableBytes)\r\n")
            buffer.writeImmutableBuffer(payload)
            buffer.writeString("\r\n")
        case .array(nil): buffer.writeString("*-1\r\n")
        case .array(let elements?):
            buffer.writeString("*\(elements.count)\r\n")
            for element in elements { encode(element, into: &buffer) }
        }
    }
}

/// Turns inbound bytes into ``RESPValue``s for the channel pipeline.
struct RESPDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue
    private let parser = RESPParser()

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try parser.parse(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial reply left at EOF is dropped; its command fails when the channel goes inactive.
        try decode(context: context, buffer: &buffer)
    }
}
