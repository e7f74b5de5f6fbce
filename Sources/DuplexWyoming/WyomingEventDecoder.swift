import Foundation

/// Turns a byte stream into Wyoming events, incrementally: feed whatever the socket delivered
/// (any split, even one byte at a time), then take the complete events.
///
/// Limits guard the server: a header line, an event's data and its payload each have a
/// maximum size, checked before anything that large is buffered. A malformed or oversize
/// event throws ``WyomingDecodingError``; the stream cannot be resynchronised after that, so
/// the decoder stays failed and the caller closes the connection.
///
/// ```swift
/// var decoder = WyomingEventDecoder()
/// decoder.feed(bytes)
/// while let event = try decoder.next() { handle(event) }
/// ```
public struct WyomingEventDecoder: Sendable {
    /// Size limits.
    public struct Limits: Sendable, Hashable {
        /// Longest header line, newline excluded. Default 64 KiB.
        public var maxHeaderBytes: Int
        /// Largest `data_length`. Default 1 MiB.
        public var maxDataBytes: Int
        /// Largest `payload_length`. Default 1 MiB.
        public var maxPayloadBytes: Int

        /// Creates limits.
        public init(maxHeaderBytes: Int = 64 << 10, maxDataBytes: Int = 1 << 20, maxPayloadBytes: Int = 1 << 20) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxDataBytes = maxDataBytes
            self.maxPayloadBytes = maxPayloadBytes
        }
    }

    private enum State: Sendable {
        /// Waiting for a header line; `scanned` bytes of the buffer hold no newline.
        case header(scanned: Int)
        /// A header was read; its data and payload follow.
        case body(type: String, data: [String: JSONValue], dataLength: Int, payloadLength: Int)
        case failed(WyomingDecodingError)
    }

    /// The limits in force.
    public let limits: Limits
    private var buffer: [UInt8] = []
    private var start = 0
    private var state = State.header(scanned: 0)

    /// Creates a decoder.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Bytes buffered but not yet decoded.
    public var bufferedBytes: Int { buffer.count - start }

    /// Adds bytes from the stream.
    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        if start > 0, start >= buffer.count / 2 {
            buffer.removeFirst(start)  // `scanned` counts from `start`, so it stays valid
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete event, or nil until more bytes arrive.
    /// - Throws: ``WyomingDecodingError`` (and keeps throwing it) once the stream is invalid.
    public mutating func next() throws(WyomingDecodingError) -> WyomingEvent? {
        switch state {
        case .failed(let error):
            throw error
        case .header(let scanned):
            let available = buffer.count - start
            guard let newline = buffer[(start + scanned)...].firstIndex(of: UInt8(ascii: "\n")) else {
                if available > limits.maxHeaderBytes { try fail(.headerTooLong(limit: limits.maxHeaderBytes)) }
                state = .header(scanned: available)
                return nil
            }
            if newline - start > limits.maxHeaderBytes { try fail(.headerTooLong(limit: limits.maxHeaderBytes)) }
            var end = newline
            if end > start, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            let line = buffer[start..<end]
            start = newline + 1
            let header: (type: String, data: [String: JSONValue], dataLength: Int, payloadLength: Int)
            do throws(WyomingDecodingError) {
                header = try parseHeader(line)
            } catch {
                try fail(error.kind)
            }
            state = .body(type: header.type, data: header.data, dataLength: header.dataLength, payloadLength: header.payloadLength)
            return try next()
        case .body(let type, var data, let dataLength, let payloadLength):
            guard buffer.count - start >= dataLength + payloadLength else { return nil }
            if dataLength > 0 {
                let bytes = buffer[start..<(start + dataLength)]
                guard let extra = try parseJSON(bytes, malformed: WyomingDecodingError.Kind.malformedData).object else {
                    try fail(.malformedData("data_length bytes must be a JSON object"))
                }
                data.merge(extra) { _, new in new }
            }
            let payloadStart = start + dataLength
            let payload = Array(buffer[payloadStart..<(payloadStart + payloadLength)])
            start = payloadStart + payloadLength
            state = .header(scanned: 0)
            return WyomingEvent(type, data: data, payload: payload)
        }
    }

    private mutating func fail(_ kind: WyomingDecodingError.Kind) throws(WyomingDecodingError) -> Never {
        let error = WyomingDecodingError(kind)
        state = .failed(error)
        buffer = []
        start = 0
        throw error
    }

    private func parseHeader(_ line: ArraySlice<UInt8>) throws(WyomingDecodingError) -> (
        type: String, data: [String: JSONValue], dataLength: Int, payloadLength: Int
    ) {
        guard let header = try parseJSON(line, malformed: WyomingDecodingError.Kind.malformedHeader).object else {
            throw WyomingDecodingError(.malformedHeader("the line is not a JSON object"))
        }
        guard let type = header["type"]?.string, !type.isEmpty else {
            throw WyomingDecodingError(.malformedHeader("\"type\" must be a non-empty string"))
        }
        var data: [String: JSONValue] = [:]
        switch header["data"] {
        case nil, .null?: break
        case .object(let object)?: data = object
        default: throw WyomingDecodingError(.malformedHeader("\"data\" must be an object"))
        }
        func length(_ key: String) throws(WyomingDecodingError) -> Int {
            switch header[key] {
            case nil, .null?: return 0
            case let value?:
                guard let number = value.int, number >= 0 else {
                    throw WyomingDecodingError(.malformedHeader("\"\(key)\" must be a non-negative integer"))
                }
                return number
            }
        }
        let dataLength = try length("data_length"), payloadLength = try length("payload_length")
        if dataLength > limits.maxDataBytes { throw WyomingDecodingError(.dataTooLarge(length: dataLength, limit: limits.maxDataBytes)) }
        if payloadLength > limits.maxPayloadBytes {
            throw WyomingDecodingError(.payloadTooLarge(length: payloadLength, limit: limits.maxPayloadBytes))
        }
        return (type, data, dataLength, payloadLength)
    }

    private func parseJSON(
        _ bytes: ArraySlice<UInt8>, malformed: (String) -> WyomingDecodingError.Kind
    ) throws(WyomingDecodingError) -> JSONValue {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw WyomingDecodingError(.notUTF8) }
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw WyomingDecodingError(malformed("not JSON"))
        }
    }
}
