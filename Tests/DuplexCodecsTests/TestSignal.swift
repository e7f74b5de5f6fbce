import DuplexCodecs
import DuplexCore
import Foundation

/// Test signals and measurements shared by the codec tests.
enum TestSignal {
    /// 440 Hz + 1 kHz tones at -9 dBFS each, s16.
    static func tones(seconds: Double, sampleRate: Int) -> [Int16] {
        let count = Int(seconds * Double(sampleRate))
        return (0..<count).map { i in
            let t = Double(i) / Double(sampleRate)
            let value = 0.35 * sin(2 * .pi * 440 * t) + 0.35 * sin(2 * .pi * 1_000 * t)
            return Int16((value * 32_767).rounded())
        }
    }

    /// Normalized power of `frequency` in `samples` (Goertzel).
    static func power(of frequency: Double, in samples: ArraySlice<Float>, sampleRate: Int) -> Double {
        let coefficient = 2 * cos(2 * .pi * frequency / Double(sampleRate))
        var s1 = 0.0
        var s2 = 0.0
        for sample in samples {
            let s0 = Double(sample) + coefficient * s1 - s2
            s2 = s1
            s1 = s0
        }
        let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
        return power / Double(samples.count * samples.count)
    }

    /// Root-mean-square level.
    static func rms(_ samples: ArraySlice<Float>) -> Double {
        guard !samples.isEmpty else { return 0 }
        return (samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(samples.count)).squareRoot()
    }

    /// Encodes `samples` in chunks of `chunkMilliseconds`, returning every chunk's bytes.
    static func encode(
        _ samples: [Int16], format: AudioFormat, sampleRate: Int, chunkMilliseconds: Int = 40
    ) throws(DuplexError) -> (chunks: [[UInt8]], tail: [UInt8]) {
        var encoder = try AudioEncoders.make(format, sampleRate: sampleRate)
        let chunk = sampleRate * chunkMilliseconds / 1000
        var chunks: [[UInt8]] = []
        var start = 0
        while start < samples.count {
            let end = min(samples.count, start + chunk)
            chunks.append(try encoder.encode(Array(samples[start..<end])))
            start = end
        }
        return (chunks, try encoder.finish())
    }

    /// The whole encoded file.
    static func encodeFile(_ samples: [Int16], format: AudioFormat, sampleRate: Int) throws(DuplexError) -> Data {
        let (chunks, tail) = try encode(samples, format: format, sampleRate: sampleRate)
        var file = Data()
        for chunk in chunks { file.append(contentsOf: chunk) }
        file.append(contentsOf: tail)
        return file
    }
}
