import Foundation

/// Whisper-style log-mel features, as Smart Turn v3 reads them: 80 mel bins × 100 frames per
/// second of 16 kHz audio (400-sample periodic Hann window, hop 160, centred with reflect
/// padding, power spectrum, Slaney mel filters, log10 floored at 1e-10, clamped to 8 below
/// the maximum, scaled by (x + 4) / 4), after normalizing the waveform to zero mean and unit
/// variance.
///
/// Matches `transformers.WhisperFeatureExtractor` (and the numpy copy of it in pipecat's
/// Smart Turn) within 1e-3; the tests compare them on the project's clips.
///
/// A value with scratch buffers: give each thread its own copy.
public struct LogMelFeatures: Sendable {
    /// Input sample rate.
    public static let sampleRate = 16_000
    /// Mel bins.
    public static let melBins = 80
    /// Samples between frames.
    public static let hop = 160
    /// Window and FFT size.
    public static let windowSize = 400

    /// Frames produced (samples / hop).
    public let frames: Int
    /// Samples expected.
    public var samples: Int { frames * Self.hop }
    private var fft = RealFFT(size: windowSize)
    private let window: [Double]
    /// Sparse mel filters: for each bin, its first FFT bin and weights.
    private let filters: [(first: Int, weights: [Double])]
    private var padded: [Double]
    private var frame: [Double]
    private var power: [Double]

    /// Plans features for `frames` frames (Smart Turn: 800, i.e. 8 s).
    public init(frames: Int) {
        self.frames = frames
        window = (0..<Self.windowSize).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(Self.windowSize)) }
        filters = Self.melFilters(bins: Self.windowSize / 2 + 1)
        padded = [Double](repeating: 0, count: frames * Self.hop + Self.windowSize)
        frame = [Double](repeating: 0, count: Self.windowSize)
        power = [Double](repeating: 0, count: Self.windowSize / 2 + 1)
    }

    /// The features of `audio` (exactly ``samples`` samples at 16 kHz in [-1, 1]), mel-major:
    /// value `[bin * frames + frame]`, the layout of a `[1, 80, frames]` tensor.
    public mutating func compute(_ audio: [Float]) -> [Float] {
        precondition(audio.count == samples, "LogMelFeatures expects \(samples) samples, got \(audio.count)")
        // Zero mean, unit variance (numpy: float32 statistics; Double here is within 1e-6).
        var sum = 0.0
        for sample in audio { sum += Double(sample) }
        let mean = sum / Double(audio.count)
        var squares = 0.0
        for sample in audio { let d = Double(sample) - mean; squares += d * d }
        let scale = 1 / (squares / Double(audio.count) + 1e-7).squareRoot()
        // Centre: reflect-pad by half a window on both sides.
        let pad = Self.windowSize / 2, count = audio.count
        for index in 0..<count { padded[pad + index] = (Double(audio[index]) - mean) * scale }
        for index in 1...pad {
            padded[pad - index] = padded[pad + index]
            padded[pad + count - 1 + index] = padded[pad + count - 1 - index]
        }
        var features = [Float](repeating: 0, count: Self.melBins * frames)
        var logs = [Double](repeating: 0, count: Self.melBins * frames)
        var peak = -Double.infinity
        for t in 0..<frames {
            let start = t * Self.hop
            for n in 0..<Self.windowSize { frame[n] = padded[start + n] * window[n] }
            frame.withUnsafeBufferPointer { input in
                power.withUnsafeMutableBufferPointer { output in fft.powerSpectrum(input, into: output) }
            }
            for (bin, filter) in filters.enumerated() {
                var energy = 0.0
                for (offset, weight) in filter.weights.enumerated() { energy += weight * power[filter.first + offset] }
                let value = log10(max(1e-10, energy))
                logs[bin * frames + t] = value
                peak = max(peak, value)
            }
        }
        let floor = peak - 8
        for index in 0..<logs.count { features[index] = Float((max(logs[index], floor) + 4) / 4) }
        return features
    }

    /// Slaney-scale, Slaney-normalized triangular filters over `bins` FFT bins (0–8 kHz).
    private static func melFilters(bins: Int) -> [(first: Int, weights: [Double])] {
        func hzToMel(_ hz: Double) -> Double {
            hz >= 1000 ? 15 + log(hz / 1000) * (27 / log(6.4)) : 3 * hz / 200
        }
        func melToHz(_ mel: Double) -> Double {
            mel >= 15 ? 1000 * exp(log(6.4) / 27 * (mel - 15)) : 200 * mel / 3
        }
        let nyquist = Double(sampleRate) / 2
        let low = hzToMel(0), high = hzToMel(nyquist)
        let edges = (0..<(melBins + 2)).map { melToHz(low + (high - low) * Double($0) / Double(melBins + 1)) }
        let fftFrequencies = (0..<bins).map { Double(sampleRate / 2) * Double($0) / Double(bins - 1) }
        return (0..<melBins).map { m in
            let weights = fftFrequencies.map { f -> Double in
                let down = (f - edges[m]) / (edges[m + 1] - edges[m])
                let up = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1])
                return max(0, min(down, up)) * 2 / (edges[m + 2] - edges[m])
            }
            let first = weights.firstIndex { $0 > 0 } ?? 0
            let last = weights.lastIndex { $0 > 0 } ?? 0
            return (first, Array(weights[first...max(first, last)]))
        }
    }
}
