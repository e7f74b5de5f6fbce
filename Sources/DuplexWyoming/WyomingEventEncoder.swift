/// Writes events as the `wyoming` package does: the header line carries `type`, `version`
/// and the lengths; the data follows as `data_length` bytes of JSON, then the payload.
public enum WyomingEventEncoder {
    /// The bytes of one event.
    public static func encode(_ event: WyomingEvent) -> [UInt8] {
        var data: [UInt8] = []
        if !event.data.isEmpty { JSONWriter.write(.object(event.data), into: &data) }
        var header: [String: JSONValue] = ["type": .string(event.type), "version": .string(WyomingEvent.protocolVersion)]
        if !data.isEmpty { header["data_length"] = .int(data.count) }
        if !event.payload.isEmpty { header["payload_length"] = .int(event.payload.count) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(96 + data.count + event.payload.count)
        JSONWriter.write(.object(header), into: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        bytes += data
        bytes += event.payload
        return bytes
    }
}

/// Compact JSON with sorted keys. Never writes a raw newline (control characters in strings
/// are escaped), so a header always stays one line.
enum JSONWriter {
    static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out += Array("null".utf8)
        case .bool(let flag): out += Array((flag ? "true" : "false").utf8)
        case .int(let number): out += Array(String(number).utf8)
        case .double(let number): out += Array((number.isFinite ? "\(number)" : "null").utf8)
        case .string(let text): writeString(text, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(members[key] ?? .null, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    private static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\n"): out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                out += Array("\\u00".utf8)
                out += [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
