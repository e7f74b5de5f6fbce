import DuplexCore
import DuplexDSP
import Foundation

/// The engine's reply frames (48 kHz s16le mono, 20 ms) as the Realtime API's output audio
/// (24 kHz s16le mono, base64), through a streaming libsoxr resampler; the sample, byte and
/// base64 buffers are reused from frame to frame, so the per-frame path allocates only the
/// outgoing text.
///
/// Not thread-safe: one converter belongs to one session's writer (behind its lock).
final class RealtimeAudioConverter {
    /// The Realtime API's PCM rate, in and out.
    static let clientRate = 24_000

    private let resampler: Resampler
    private var input: [Float] = []
    private var output: [Float] = []
    private var bytes: [UInt8] = []
    private var base64: [UInt8] = []

    init() throws(DuplexError) {
        resampler = try Resampler(from: OutputFormat.sampleRate, to: Self.clientRate)
        input.reserveCapacity(OutputFormat.sampleRate / 50)
        output.reserveCapacity(Self.clientRate / 50 + 64)
        bytes.reserveCapacity(2 * (Self.clientRate / 50 + 64))
        base64.reserveCapacity(4 * (Self.clientRate / 50 + 64))
    }

    /// One 48 kHz frame at 24 kHz, base64 (may be a little shorter or longer than half the
    /// frame: the resampler's delay). Empty when it produced nothing yet.
    func convert(_ frame: Data) -> String {
        input.removeAll(keepingCapacity: true)
        frame.withUnsafeBytes { raw in
            let count = raw.count / 2
            for index in 0..<count {
                let sample = Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * index, as: Int16.self))
                input.append(Float(sample) / 32768)
            }
        }
        output.removeAll(keepingCapacity: true)
        resampler.process(input, into: &output)
        return encode(output)
    }

    /// The resampler's tail at the end of a reply (base64, possibly empty); ready for the next one.
    func flush() -> String {
        encode(resampler.flush())
    }

    private func encode(_ samples: [Float]) -> String {
        guard !samples.isEmpty else { return "" }
        bytes.removeAll(keepingCapacity: true)
        for sample in samples {
            let value = Int16(max(-32768, min(32767, (sample * 32768).rounded())))
            bytes.append(UInt8(truncatingIfNeeded: value))
            bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        }
        Self.base64(bytes, into: &base64)
        return String(decoding: base64, as: UTF8.self)
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 with padding, into a reused buffer.
    static func base64(_ bytes: [UInt8], into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        var index = 0
        while index + 2 < bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(alphabet[Int(chunk >> 18 & 63)])
            out.append(alphabet[Int(chunk >> 12 & 63)])
            out.append(alphabet[Int(chunk >> 6 & 63)])
            out.append(alphabet[Int(chunk & 63)])
            index += 3
        }
        let left = bytes.count - index
        if left > 0 {
            let chunk = UInt32(bytes[index]) << 16 | (left == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            out.append(alphabet[Int(chunk >> 18 & 63)])
            out.append(alphabet[Int(chunk >> 12 & 63)])
            out.append(left == 2 ? alphabet[Int(chunk >> 6 & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
    }
}
