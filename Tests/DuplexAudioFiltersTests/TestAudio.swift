import DuplexCore
import DuplexDSP
import Foundation

/// Files, signals and measurements shared by the audio-filter tests.
enum TestAudio {
    /// `$DUPLEX_DEPS`, or `<repo>/.deps` found from this file's location.
    static var deps: String {
        if let deps = ProcessInfo.processInfo.environment["DUPLEX_DEPS"], !deps.isEmpty { return deps }
        var url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        for _ in 0..<3 { url.deleteLastPathComponent() }  // Tests/DuplexAudioFiltersTests/TestAudio.swift
        return url.path + "/.deps"
    }

    /// Where `scripts/install-models.sh` puts the noise-suppression libraries and model.
    static var denoiseDirectory: String { deps + "/models/denoise" }

    /// A recorded human-speech clip (16 kHz mono) as float samples.
    static func clip(_ name: String) throws -> [Float] {
        let wav = try WAVFile.read(path: "\(deps)/testdata/\(name).wav")
        guard wav.sampleRate == 16_000 else {
            throw DuplexError(.invalidAudio, "\(name).wav is \(wav.sampleRate) Hz, not 16 kHz; re-run scripts/install-models.sh.")
        }
        return SampleConversion.float(from: wav.samples)
    }

    /// Gaussian white noise with RMS `rms`, the same for the same seed.
    static func whiteNoise(count: Int, rms: Double, seed: UInt64) -> [Float] {
        var state = seed
        func next() -> Double {  // SplitMix64 → (0, 1)
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return (Double(z >> 11) + 0.5) / Double(1 << 53)
        }
        return (0..<count).map { _ in Float(rms * sqrt(-2 * log(next())) * cos(2 * .pi * next())) }
    }

    /// Sum of squares.
    static func energy(_ x: ArraySlice<Float>) -> Double {
        x.reduce(0) { $0 + Double($1) * Double($1) }
    }

    /// Root mean square.
    static func rms(_ x: ArraySlice<Float>) -> Double {
        x.isEmpty ? 0 : sqrt(energy(x) / Double(x.count))
    }

    /// 10·log10 of an energy ratio.
    static func decibels(_ ratio: Double) -> Double { 10 * log10(ratio) }

    /// Normalized correlation (cosine similarity) of two equally long signals.
    static func correlation(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
        precondition(a.count == b.count)
        var ab = 0.0, aa = 0.0, bb = 0.0
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                for index in 0..<a.count {
                    let x = Double(a[index]), y = Double(b[index])
                    ab += x * y
                    aa += x * x
                    bb += y * y
                }
            }
        }
        return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0
    }

    /// The lag in `lags` at which `output[lag...]` correlates best with `input` over `range`.
    static func bestLag(output: [Float], input: [Float], range: Range<Int>, lags: ClosedRange<Int>) -> Int {
        lags.max { a, b in
            correlation(output[(range.lowerBound + a)..<(range.upperBound + a)], input[range])
                < correlation(output[(range.lowerBound + b)..<(range.upperBound + b)], input[range])
        }!
    }

    /// SpeexDSP's echo canceller's DC notch (a high-pass near 50 Hz at 16 kHz, pole radius
    /// 0.982, from `filter_dc_notch16` in mdf.c): with no echo to remove, its output is
    /// exactly this filter applied to the microphone audio.
    static func speexDCNotch(_ x: [Float]) -> [Float] {
        let radius = 0.982
        let den2 = radius * radius + 0.7 * (1 - radius) * (1 - radius)
        var mem0 = 0.0, mem1 = 0.0
        return x.map { sample in
            let input = Double(sample)
            let output = mem0 + input
            mem0 = mem1 + 2 * (-input + radius * output)
            mem1 = input - den2 * output
            return Float(radius * output)
        }
    }

    /// `x` delayed by `samples` (zeros first), same length.
    static func delayed(_ x: [Float], by samples: Int) -> [Float] {
        Array((repeatElement(0, count: samples) + x).prefix(x.count))
    }

    /// Feeds `input` in chunks of the given sizes (cycled) and concatenates the results.
    static func stream(_ input: [Float], chunks: [Int], _ body: ([Float]) -> [Float]) -> [Float] {
        var output: [Float] = []
        output.reserveCapacity(input.count)
        var start = 0
        var index = 0
        while start < input.count {
            let end = min(input.count, start + chunks[index % chunks.count])
            output += body(Array(input[start..<end]))
            start = end
            index += 1
        }
        return output
    }
}
