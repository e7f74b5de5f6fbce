import DuplexDSP
import Foundation
import Testing

@Suite struct ResamplerTests {
    private func sine(_ hz: Double, rate: Int, seconds: Double, amplitude: Double = 0.5) -> [Float] {
        (0..<Int(Double(rate) * seconds)).map { Float(amplitude * sin(2 * .pi * hz * Double($0) / Double(rate))) }
    }

    /// Best-fit amplitude of a sine at `hz` in `x` (least squares on sin/cos).
    private func amplitude(of hz: Double, in x: [Float], rate: Int) -> Double {
        var s = 0.0, c = 0.0
        for (i, v) in x.enumerated() {
            let phase = 2 * .pi * hz * Double(i) / Double(rate)
            s += Double(v) * sin(phase)
            c += Double(v) * cos(phase)
        }
        return 2 * sqrt(s * s + c * c) / Double(x.count)
    }

    @Test(arguments: [200.0, 1000.0, 4000.0, 9000.0])
    func piperRateToOutputRateKeepsTonesClean(hz: Double) throws {
        let resampler = try Resampler(from: 22_050, to: 48_000)
        let out = resampler.process(sine(hz, rate: 22_050, seconds: 1)) + resampler.flush()
        #expect(abs(out.count - 48_000) <= 2)
        // Compare the steady-state middle against an ideal sine at the output rate.
        let middle = Array(out[4800..<43_200])
        let fitted = amplitude(of: hz, in: middle, rate: 48_000)
        #expect(abs(fitted - 0.5) < 0.005)
        // Residual after removing the fitted tone: SNR well above 60 dB.
        var s = 0.0, c = 0.0
        for (i, v) in middle.enumerated() {
            let phase = 2 * .pi * hz * Double(i + 4800) / 48_000
            s += Double(v) * sin(phase); c += Double(v) * cos(phase)
        }
        s *= 2 / Double(middle.count); c *= 2 / Double(middle.count)
        var noise = 0.0, signal = 0.0
        for (i, v) in middle.enumerated() {
            let phase = 2 * .pi * hz * Double(i + 4800) / 48_000
            let ideal = s * sin(phase) + c * cos(phase)
            noise += (Double(v) - ideal) * (Double(v) - ideal)
            signal += ideal * ideal
        }
        #expect(10 * log10(signal / noise) > 60)
    }

    @Test func sweepAboveNyquistIsRejectedWhenDownsampling() throws {
        // 10 kHz cannot exist at 16 kHz: it must be filtered out, not aliased to 6 kHz.
        let resampler = try Resampler(from: 48_000, to: 16_000)
        let out = resampler.process(sine(10_000, rate: 48_000, seconds: 1)) + resampler.flush()
        let middle = Array(out[1600..<14_400])
        let rms = sqrt(middle.reduce(0.0) { $0 + Double($1 * $1) } / Double(middle.count))
        #expect(20 * log10(rms / (0.5 / sqrt(2))) < -80)
        // A 3 kHz tone passes unchanged.
        let pass = try Resampler(from: 48_000, to: 16_000)
        let passed = pass.process(sine(3000, rate: 48_000, seconds: 1)) + pass.flush()
        #expect(abs(amplitude(of: 3000, in: Array(passed[1600..<14_400]), rate: 16_000) - 0.5) < 0.005)
    }

    @Test func chunkedProcessingEqualsOneShot() throws {
        // A sweep from 100 Hz to 10 kHz.
        let input: [Float] = (0..<22_050).map { i in
            let t = Double(i) / 22_050
            return Float(0.5 * sin(2 * .pi * (100 * t + 4950 * t * t)))
        }
        let whole = try Resampler(from: 22_050, to: 48_000)
        let expected = whole.process(input) + whole.flush()
        let chunked = try Resampler(from: 22_050, to: 48_000)
        var output: [Float] = []
        var index = 0
        for size in [1, 7, 256, 1000, 333, 4096, 17] where index < input.count {
            chunked.process(Array(input[index..<min(input.count, index + size)]), into: &output)
            index += size
        }
        chunked.process(Array(input[index...]), into: &output)
        output += chunked.flush()
        #expect(output.count == expected.count)
        let maxDifference = zip(output, expected).map { abs($0 - $1) }.max() ?? 1
        #expect(maxDifference < 1e-5)
    }

    @Test func resamplerIsReusableAfterFlush() throws {
        let resampler = try Resampler(from: 24_000, to: 48_000)
        let first = resampler.process(sine(440, rate: 24_000, seconds: 0.2)) + resampler.flush()
        let second = resampler.process(sine(440, rate: 24_000, seconds: 0.2)) + resampler.flush()
        #expect(first.count == second.count)
        #expect(zip(first, second).allSatisfy { abs($0 - $1) < 1e-6 })
    }
}
