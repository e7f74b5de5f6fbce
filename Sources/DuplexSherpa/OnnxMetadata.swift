import DuplexCore
import Foundation

/// Reads and appends the `metadata_props` of an ONNX model without an ONNX library.
///
/// An `.onnx` file is a serialized `ModelProto`; its `metadata_props` (field 14) are
/// `StringStringEntryProto` messages (key = 1, value = 2). Because protobuf merges repeated
/// fields, appending encoded entries to the end of the file is valid and leaves the rest of
/// the model untouched. sherpa-onnx reads keys such as `model_type` and `sample_rate` there.
public enum OnnxMetadata {
    /// The metadata entries already in a serialized model.
    ///
    /// Also checks the file's structure (every top-level field intact, a graph present), so a
    /// truncated or foreign file is rejected here rather than by onnxruntime.
    /// - Throws: ``DuplexError`` (`invalidVoicePack`) when the bytes are not an ONNX model.
    public static func entries(in model: Data) throws(DuplexError) -> [String: String] {
        var entries: [String: String] = [:]
        var reader = ProtoReader(data: model)
        var hasGraph = false
        while !reader.atEnd {
            guard let (field, wireType) = reader.tag() else { throw malformed() }
            if field == 7, wireType == 2 {
                guard reader.lengthDelimited() != nil else { throw malformed() }
                hasGraph = true
            } else if field == 14, wireType == 2 {
                guard let entry = reader.lengthDelimited() else { throw malformed() }
                var inner = ProtoReader(data: entry)
                var key = "", value = ""
                while !inner.atEnd {
                    guard let (f, w) = inner.tag() else { throw malformed() }
                    if w == 2, f == 1 || f == 2, let bytes = inner.lengthDelimited() {
                        let text = String(decoding: bytes, as: UTF8.self)
                        if f == 1 { key = text } else { value = text }
                    } else if !inner.skip(wireType: w) {
                        throw malformed()
                    }
                }
                entries[key] = value
            } else if !reader.skip(wireType: wireType) {
                throw malformed()
            }
        }
        guard hasGraph else { throw malformed() }
        return entries
    }

    /// The protobuf bytes that add `entries` as `metadata_props` when appended to a model.
    public static func encode(_ entries: [(key: String, value: String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (key, value) in entries {
            var entry: [UInt8] = []
            appendField(1, Array(key.utf8), to: &entry)
            appendField(2, Array(value.utf8), to: &entry)
            appendField(14, entry, to: &out)
        }
        return out
    }

    private static func appendField(_ number: UInt64, _ payload: [UInt8], to out: inout [UInt8]) {
        appendVarint(number << 3 | 2, to: &out)
        appendVarint(UInt64(payload.count), to: &out)
        out.append(contentsOf: payload)
    }

    private static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    private static func malformed() -> DuplexError {
        DuplexError(.invalidVoicePack, "The model file is not a valid ONNX model (truncated or not protobuf); reinstall it.")
    }
}

/// A minimal protobuf wire-format reader over top-level fields.
private struct ProtoReader {
    let data: Data
    var offset: Data.Index

    init(data: Data) {
        self.data = data
        self.offset = data.startIndex
    }

    var atEnd: Bool { offset >= data.endIndex }

    mutating func varint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < data.endIndex, shift < 64 {
            let byte = data[offset]
            offset += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }

    mutating func tag() -> (field: UInt64, wireType: UInt64)? {
        guard let key = varint(), key >> 3 > 0 else { return nil }
        return (key >> 3, key & 7)
    }

    mutating func lengthDelimited() -> Data? {
        guard let length = varint(), length <= UInt64(data.endIndex - offset) else { return nil }
        let end = offset + Int(length)
        defer { offset = end }
        return data[offset..<end]
    }

    mutating func skip(wireType: UInt64) -> Bool {
        switch wireType {
        case 0: return varint() != nil
        case 1: return advance(8)
        case 2: return lengthDelimited() != nil
        case 5: return advance(4)
        default: return false
        }
    }

    private mutating func advance(_ count: Int) -> Bool {
        guard data.endIndex - offset >= count else { return false }
        offset += count
        return true
    }
}
