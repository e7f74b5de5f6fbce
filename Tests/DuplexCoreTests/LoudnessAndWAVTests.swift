import DuplexCore
import DuplexDSP
import Foundation
import Testing

@Suite struct LoudnessTests {
    private func tone(_ amplitude: Double, seconds: Double = 3) -> [Float] {
        (0..<Int(48_000 * seconds)).map { Float(amplitude * sin(2 * .pi * 997 * Double($0) / 48_000)) }
    }

    @Test func fullScaleSineMeasuresMinusThreeLUFS() throws {
        // BS.1770 reference: a 0 dBFS 997 Hz sine reads −3.01 LUFS.
        let loudness = try #require(LoudnessMeter.integratedLoudness(tone(1.0)))
        #expect(abs(loudness - -3.01) < 0.1)
        let quieter = try #require(LoudnessMeter.integratedLoudness(tone(0.1)))
        #expect(abs(quieter - -23.01) < 0.1)
    }

    @Test func aWAVHeaderWithAnAbsurdSampleRateIsRefusedNotTrappedOnLater() throws {
        // The fuzz target's crash input (fuzz/corpus/wav/absurd-rate.bin): 4,294,919,296 Hz.
        var bytes = [UInt8](WAVFile(samples: [1, 2, 3, 4], sampleRate: 16_000).encoded())
        bytes.replaceSubrange(24..<28, with: [0x80, 0x44, 0xFF, 0xFF])
        #expect(throws: DuplexError.self) { try WAVFile.parse(Data(bytes)) }
        let fine = try WAVFile.parse(WAVFile(samples: [1, 2, 3, 4], sampleRate: 768_000).encoded())
        #expect(fine.sampleRate == 768_000)
    }

    @Test func silenceHasNoLoudness() {
        #expect(LoudnessMeter.integratedLoudness([Float](repeating: 0, count: 48_000)) == nil)
    }

    @Test func normalizerGainReachesTheTarget() throws {
        let normalizer = LoudnessNormalizer(mode: .lufs, target: -16)
        var samples = tone(0.05)
        let gain = normalizer.gain(for: samples)
        LoudnessNormalizer.apply(gain: gain, to: &samples)
        let after = try #require(LoudnessMeter.integratedLoudness(samples))
        #expect(abs(after - -16) < 0.2)
    }

    @Test func limiterNeverClips() {
        var samples = tone(0.9)
        LoudnessNormalizer.apply(gain: 4, to: &samples)
        #expect(samples.allSatisfy { abs($0) <= 1 })
    }

    @Test func rmsModeAndOffMode() {
        let samples = tone(0.5)
        #expect(LoudnessNormalizer(mode: .off).gain(for: samples) == 1)
        let gain = LoudnessNormalizer(mode: .rms, target: -20).gain(for: samples)
        let rms = 0.5 / sqrt(2.0)
        #expect(abs(20 * log10(rms * Double(gain)) - -20) < 0.1)
    }
}

@Suite struct WAVTests {
    @Test func roundTripPreservesSamplesAndRate() throws {
        let samples: [Int16] = (0..<1000).map { Int16(truncatingIfNeeded: $0 * 31) }
        let file = WAVFile(samples: samples, sampleRate: 48_000)
        let parsed = try WAVFile.parse(file.encoded())
        #expect(parsed == file)
        #expect(file.encoded().count == 44 + 2000)
    }

    @Test func emptyFileRoundTrips() throws {
        let parsed = try WAVFile.parse(WAVFile(samples: [], sampleRate: 16_000).encoded())
        #expect(parsed.samples.isEmpty)
        #expect(parsed.sampleRate == 16_000)
    }

    @Test func rejectsGarbage() {
        #expect(throws: (any Error).self) { try WAVFile.parse(Data("not a wav file at all".utf8)) }
        #expect(throws: (any Error).self) { try WAVFile.parse(Data()) }
    }
}
