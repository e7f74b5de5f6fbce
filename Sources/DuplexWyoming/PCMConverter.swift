import DuplexCore
import DuplexDSP

/// Turns PCM in any ``WyomingAudioFormat`` into 16 kHz mono floats for Whisper: channels
/// are averaged, samples scaled to [-1, 1], then resampled (libsoxr). Chunks may split a
/// sample frame; the remainder waits for the next chunk.
///
/// Not thread-safe: one converter belongs to one transcription.
final class PCMConverter {
    let format: WyomingAudioFormat
    private let resampler: Resampler
    private var remainder: [UInt8] = []

    init(format: WyomingAudioFormat, outputRate: Int = 16_000) throws(DuplexError) {
        self.format = format
        resampler = try Resampler(from: format.rate, to: outputRate)
    }

    /// Converts a chunk, appending the output to `samples`.
    func convert(_ bytes: [UInt8], into samples: inout [Float]) {
        let frameBytes = format.frameBytes
        var input = remainder
        input += bytes
        let frames = input.count / frameBytes
        remainder = Array(input[(frames * frameBytes)...])
        guard frames > 0 else { return }
        var mono = [Float](repeating: 0, count: frames)
        let scale = 1 / Float(format.channels)
        input.withUnsafeBytes { raw in
            for frame in 0..<frames {
                var sum: Float = 0
                for channel in 0..<format.channels {
                    sum += Self.sample(raw, at: (frame * format.channels + channel) * format.width, width: format.width)
                }
                mono[frame] = sum * scale
            }
        }
        resampler.process(mono, into: &samples)
    }

    /// Ends the stream (the resampler's tail).
    func finish(into samples: inout [Float]) {
        samples += resampler.flush()
        remainder = []
    }

    private static func sample(_ raw: UnsafeRawBufferPointer, at offset: Int, width: Int) -> Float {
        switch width {
        case 1:
            return (Float(raw[offset]) - 128) / 128
        case 2:
            let value = Int16(bitPattern: UInt16(raw[offset]) | UInt16(raw[offset + 1]) << 8)
            return Float(value) / 32768
        default:
            let bits = UInt32(raw[offset]) | UInt32(raw[offset + 1]) << 8 | UInt32(raw[offset + 2]) << 16 | UInt32(raw[offset + 3]) << 24
            return Float(Int32(bitPattern: bits)) / 2_147_483_648
        }
    }
}
