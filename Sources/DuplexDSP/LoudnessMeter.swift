import Foundation

/// Integrated loudness (LUFS) per ITU-R BS.1770-4 / EBU R128, for mono 48 kHz audio:
/// K-weighting, 400 ms blocks with 75 % overlap, absolute gate at −70 LUFS and relative
/// gate at −10 LU. Signals shorter than one block are measured ungated.
public enum LoudnessMeter {
    /// Measures the integrated loudness of mono float samples at 48 kHz.
    /// - Returns: LUFS, or nil for silence.
    public static func integratedLoudness(_ samples: [Float], sampleRate: Int = 48_000) -> Double? {
        precondition(sampleRate == 48_000, "K-weighting coefficients are for 48 kHz")
        guard !samples.isEmpty else { return nil }
        let weighted = kWeight(samples)
        let block = sampleRate * 400 / 1000
        let hop = block / 4
        guard weighted.count >= block else {
            return loudness(meanSquare: meanSquare(weighted[...]))
        }
        var blocks: [Double] = []
        var start = 0
        while start + block <= weighted.count {
            blocks.append(meanSquare(weighted[start..<start + block]))
            start += hop
        }
        let absolute = blocks.filter { loudness(meanSquare: $0).map { $0 > -70 } ?? false }
        guard !absolute.isEmpty else { return nil }
        let ungated = absolute.reduce(0, +) / Double(absolute.count)
        guard let threshold = loudness(meanSquare: ungated).map({ $0 - 10 }) else { return nil }
        let relative = absolute.filter { loudness(meanSquare: $0).map { $0 > threshold } ?? false }
        guard !relative.isEmpty else { return nil }
        return loudness(meanSquare: relative.reduce(0, +) / Double(relative.count))
    }

    /// Root-mean-square level of `samples` (full scale 1; 0 for none). Cheap enough for every
    /// 10 ms frame: no allocation.
    @inlinable
    public static func rms<Samples: Collection<Float>>(_ samples: Samples) -> Float {
        guard !samples.isEmpty else { return 0 }
        var sum: Float = 0
        for sample in samples { sum += sample * sample }
        return (sum / Float(samples.count)).squareRoot()
    }

    /// RMS level in dBFS (a full-scale square wave is 0 dBFS), or nil for silence.
    public static func rmsDBFS(_ samples: [Float]) -> Double? {
        guard !samples.isEmpty else { return nil }
        let ms = meanSquare(samples.map { Double($0) }[...])
        guard ms > 0 else { return nil }
        return 10 * log10(ms)
    }

    private static func loudness(meanSquare: Double) -> Double? {
        guard meanSquare > 0 else { return nil }
        return -0.691 + 10 * log10(meanSquare)
    }

    private static func meanSquare(_ x: ArraySlice<Double>) -> Double {
        var sum = 0.0
        for v in x { sum += v * v }
        return sum / Double(max(1, x.count))
    }

    /// The two-stage K-weighting filter (BS.1770 coefficients for 48 kHz).
    private static func kWeight(_ samples: [Float]) -> [Double] {
        var shelf = Biquad(
            b: (1.53512485958697, -2.69169618940638, 1.19839281085285),
            a: (-1.69065929318241, 0.73248077421585))
        var highPass = Biquad(b: (1.0, -2.0, 1.0), a: (-1.99004745483398, 0.99007225036621))
        return samples.map { highPass.process(shelf.process(Double($0))) }
    }

    private struct Biquad {
        var b: (Double, Double, Double)
        var a: (Double, Double)
        var z1 = 0.0
        var z2 = 0.0

        mutating func process(_ x: Double) -> Double {
            let y = b.0 * x + z1
            z1 = b.1 * x - a.0 * y + z2
            z2 = b.2 * x - a.1 * y
            return y
        }
    }
}

/// Computes and applies the gain that brings audio to a loudness target, with a soft
/// limiter so the gained signal never clips.
public struct LoudnessNormalizer: Sendable, Hashable {
    /// How loudness is measured.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Integrated loudness, BS.1770 (target in LUFS).
        case lufs
        /// Plain RMS (target in dBFS).
        case rms
        /// No normalization (gain 1).
        case off
    }

    /// The measurement mode.
    public var mode: Mode
    /// The target level (LUFS or dBFS, per ``mode``).
    public var target: Double
    /// The largest gain applied, in dB (keeps near-silence from being blown up).
    public var maxGainDB: Double

    /// Creates a normalizer; the default is −16 LUFS.
    public init(mode: Mode = .lufs, target: Double = -16, maxGainDB: Double = 20) {
        self.mode = mode
        self.target = target
        self.maxGainDB = maxGainDB
    }

    /// The linear gain that moves `samples` (48 kHz) to the target.
    public func gain(for samples: [Float]) -> Float {
        let measured: Double?
        switch mode {
        case .off: return 1
        case .lufs: measured = LoudnessMeter.integratedLoudness(samples)
        case .rms: measured = LoudnessMeter.rmsDBFS(samples)
        }
        guard let measured else { return 1 }
        let db = min(maxGainDB, target - measured)
        return Float(pow(10, db / 20))
    }

    /// Applies `gain` with a soft knee above −1 dBFS so peaks never clip.
    public static func apply(gain: Float, to samples: inout [Float]) {
        let knee: Float = 0.891  // −1 dBFS
        samples.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<buffer.count {
                let v = buffer[i] * gain
                let magnitude = abs(v)
                if magnitude <= knee {
                    buffer[i] = v
                } else {
                    // Smoothly approach full scale: knee + (1-knee) * tanh((|v|-knee)/(1-knee)).
                    let over = (magnitude - knee) / (1 - knee)
                    let limited = knee + (1 - knee) * Float(tanh(Double(over)))
                    buffer[i] = v < 0 ? -limited : limited
                }
            }
        }
    }
}
