import DuplexCore
import Foundation

/// Reading and writing RIFF/WAVE files.
///
/// Reads 8/16/24/32-bit integer and 32/64-bit float PCM (mixing channels down to mono);
/// writes mono s16le PCM.
public struct WAVFile: Sendable, Hashable {
    /// Mono samples.
    public var samples: [Int16]
    /// Sample rate in Hz.
    public var sampleRate: Int

    /// Creates a WAV from mono samples.
    public init(samples: [Int16], sampleRate: Int) {
        self.samples = samples
        self.sampleRate = sampleRate
    }

    /// Duration in seconds.
    public var duration: Double { Double(samples.count) / Double(sampleRate) }

    /// Reads a WAV file from disk.
    public static func read(path: String) throws(DuplexError) -> WAVFile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DuplexError(.io, "Cannot read WAV file '\(path)': \(error.localizedDescription)", cause: error)
        }
        return try parse(data)
    }

    /// Parses WAV bytes.
    public static func parse(_ data: Data) throws(DuplexError) -> WAVFile {
        let bytes = [UInt8](data)
        func u32(_ o: Int) -> UInt32 {
            UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
        }
        func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
        func tag(_ o: Int) -> String { String(decoding: bytes[o..<o + 4], as: UTF8.self) }

        guard bytes.count >= 12, tag(0) == "RIFF", tag(8) == "WAVE" else {
            throw DuplexError(.invalidAudio, "Not a WAV file (missing RIFF/WAVE header).")
        }
        var offset = 12
        var format: (code: UInt16, channels: Int, rate: Int, bits: Int)?
        var payload: Range<Int>?
        while offset + 8 <= bytes.count {
            let id = tag(offset)
            let size = Int(u32(offset + 4))
            let body = offset + 8
            let end = min(bytes.count, body + size)
            if id == "fmt ", end - body >= 16 {
                var code = u16(body)
                if code == 0xFFFE, end - body >= 26 { code = u16(body + 24) }  // WAVE_FORMAT_EXTENSIBLE
                format = (code, Int(u16(body + 2)), Int(u32(body + 4)), Int(u16(body + 14)))
            } else if id == "data" {
                payload = body..<end
                break
            }
            offset = body + size + (size & 1)
        }
        guard let format, let payload else {
            throw DuplexError(.invalidAudio, "WAV file has no fmt or data chunk.")
        }
        // A rate beyond any real device's (found by fuzzing: 4.29 GHz parsed, then trapped when
        // the file was encoded again) is a corrupt header.
        guard format.channels >= 1, (1...768_000).contains(format.rate) else {
            throw DuplexError(.invalidAudio, "WAV file declares \(format.channels) channels at \(format.rate) Hz.")
        }
        let width = format.bits / 8
        let frameBytes = width * format.channels
        guard frameBytes > 0 else { throw DuplexError(.invalidAudio, "WAV file has \(format.bits)-bit samples.") }
        let frames = payload.count / frameBytes
        var out = [Int16](repeating: 0, count: frames)

        func sample(at o: Int) throws(DuplexError) -> Double {
            switch (format.code, format.bits) {
            case (1, 8): return (Double(bytes[o]) - 128) / 128
            case (1, 16): return Double(Int16(bitPattern: u16(o))) / 32768
            case (1, 24):
                let v = Int32(bitPattern: UInt32(bytes[o]) << 8 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 24)
                return Double(v >> 8) / 8_388_608
            case (1, 32): return Double(Int32(bitPattern: u32(o))) / 2_147_483_648
            case (3, 32): return Double(Float(bitPattern: u32(o)))
            case (3, 64):
                let v = UInt64(u32(o)) | UInt64(u32(o + 4)) << 32
                return Double(bitPattern: v)
            default:
                throw DuplexError(.invalidAudio, "Unsupported WAV encoding (format \(format.code), \(format.bits) bits); use PCM or float.")
            }
        }
        for i in 0..<frames {
            var sum = 0.0
            for c in 0..<format.channels {
                sum += try sample(at: payload.lowerBound + i * frameBytes + c * width)
            }
            let v = (sum / Double(format.channels) * 32768).rounded()
            out[i] = Int16(max(-32768, min(32767, v)))
        }
        return WAVFile(samples: out, sampleRate: format.rate)
    }

    /// The file's bytes: a 44-byte header and mono s16le PCM.
    public func encoded() -> Data {
        var data = Data(capacity: 44 + samples.count * 2)
        func put32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        func put16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        let payload = UInt32(samples.count * 2)
        data.append(contentsOf: Array("RIFF".utf8))
        put32(36 + payload)
        data.append(contentsOf: Array("WAVEfmt ".utf8))
        put32(16)
        put16(1)
        put16(1)
        put32(UInt32(sampleRate))
        put32(UInt32(sampleRate * 2))
        put16(2)
        put16(16)
        data.append(contentsOf: Array("data".utf8))
        put32(payload)
        samples.withUnsafeBytes { data.append(contentsOf: $0) }
        return data
    }

    /// Writes the file to disk.
    public func write(path: String) throws(DuplexError) {
        do {
            try encoded().write(to: URL(fileURLWithPath: path))
        } catch {
            throw DuplexError(.io, "Cannot write WAV file '\(path)': \(error.localizedDescription)", cause: error)
        }
    }
}
