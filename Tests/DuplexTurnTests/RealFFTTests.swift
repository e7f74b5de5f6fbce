import DuplexTurn
import Foundation
import Testing

@Suite struct RealFFTTests {
    /// The mixed-radix real FFT against a direct DFT, on noise, for Whisper's size and others.
    @Test(arguments: [400, 8, 20, 60, 320, 512])
    func powerSpectrumMatchesADirectTransform(size: Int) {
        var generator = SystemRandomNumberGenerator()
        let input = (0..<size).map { _ in Double.random(in: -1...1, using: &generator) }
        var fft = RealFFT(size: size)
        var power = [Double](repeating: 0, count: size / 2 + 1)
        input.withUnsafeBufferPointer { source in
            power.withUnsafeMutableBufferPointer { fft.powerSpectrum(source, into: $0) }
        }
        var worst = 0.0
        for k in 0...(size / 2) {
            var re = 0.0, im = 0.0
            for (n, x) in input.enumerated() {
                let angle = -2 * Double.pi * Double(k * n % size) / Double(size)
                re += x * cos(angle)
                im += x * sin(angle)
            }
            worst = max(worst, abs(power[k] - (re * re + im * im)) / max(1, re * re + im * im))
        }
        #expect(worst < 1e-9)
    }
}
