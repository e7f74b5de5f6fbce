import DuplexAudioFilters
import DuplexCore
import Foundation
import Testing

@Suite(.serialized) struct DenoiserTests {
    static let kinds: [DenoiserKind] = [.deepfilternet, .rnnoise]
    static let rate = 16_000

    /// Beckett between two seconds of noise on each side, plus white noise at 5 dB SNR
    /// (against the clip's average power).
    struct NoisySpeech {
        let clean: [Float]
        let noise: [Float]
        var noisy: [Float] { zip(clean, noise).map(+) }
        /// Where only noise is present (after half a second for the models to settle).
        let noiseOnly: [Range<Int>]
        let speech: Range<Int>

        init() throws {
            let speech = try TestAudio.clip("beckett")
            let pad = 2 * DenoiserTests.rate
            clean = [Float](repeating: 0, count: pad) + speech + [Float](repeating: 0, count: pad)
            let speechPower = TestAudio.energy(speech[...]) / Double(speech.count)
            let noiseRMS = sqrt(speechPower / pow(10, 5.0 / 10))
            noise = TestAudio.whiteNoise(count: clean.count, rms: noiseRMS, seed: 42)
            noiseOnly = [(pad / 4)..<pad, (pad + speech.count + pad / 4)..<clean.count]
            self.speech = pad..<(pad + speech.count)
        }
    }

    private func make(_ kind: DenoiserKind) throws -> any Denoiser {
        try #require(try kind.makeDenoiser(directory: TestAudio.denoiseDirectory))
    }

    @Test(arguments: kinds)
    func noiseDropsAndSpeechStays(kind: DenoiserKind) throws {
        let signal = try NoisySpeech()
        let clock = ContinuousClock()
        var made: (any Denoiser)?
        let creation = try clock.measure { made = try make(kind) }
        let denoiser = try #require(made)
        #expect(denoiser.kind == kind)
        let latency = denoiser.latency
        let input = signal.noisy
        var output: [Float] = []
        let elapsed = clock.measure {
            output = TestAudio.stream(input, chunks: [320]) { denoiser.process($0) }
        }
        #expect(output.count == input.count)
        let frames = Double(input.count) / 320
        let perFrame = Double(elapsed.components.attoseconds) / 1e15 / frames
            + Double(elapsed.components.seconds) * 1e3 / frames
        // Output sample i + latency is input sample i.
        let aligned = Array(output[latency...]) + [Float](repeating: 0, count: latency)

        var noiseIn = 0.0, noiseOut = 0.0
        for range in signal.noiseOnly {
            let end = min(range.upperBound, input.count - latency)
            noiseIn += TestAudio.energy(signal.noise[range.lowerBound..<end])
            noiseOut += TestAudio.energy(aligned[range.lowerBound..<end])
        }
        let reduction = TestAudio.decibels(noiseIn / noiseOut)
        let speechKept = TestAudio.energy(aligned[signal.speech]) / TestAudio.energy(signal.clean[signal.speech])
        let correlationIn = TestAudio.correlation(input[signal.speech], signal.clean[signal.speech])
        let correlationOut = TestAudio.correlation(aligned[signal.speech], signal.clean[signal.speech])
        print(
            "\(kind): created in \(creation), latency \(latency) samples (\(denoiser.latencyDuration)), "
                + String(format: "%.3f ms per 20 ms frame, ", perFrame)
                + String(format: "noise-only segments -%.1f dB, ", reduction)
                + String(format: "speech energy kept %.0f%%, ", speechKept * 100)
                + String(format: "correlation with clean speech %.3f → %.3f", correlationIn, correlationOut))
        #expect(reduction >= 10)
        #expect(speechKept >= 0.5 && speechKept <= 1.5)
        #expect(correlationOut > correlationIn)
    }

    @Test(arguments: kinds)
    func latencyIsWhereTheSpeechIs(kind: DenoiserKind) throws {
        let speech = try TestAudio.clip("beckett")
        let denoiser = try make(kind)
        let output = TestAudio.stream(speech, chunks: [160, 480, 7]) { denoiser.process($0) }
        let latency = denoiser.latency
        let lag = TestAudio.bestLag(
            output: output, input: speech, range: 16_000..<(speech.count - 16_000),
            lags: (latency - 200)...(latency + 200))
        print("\(kind): best alignment at \(lag) samples, reported latency \(latency)")
        #expect(abs(lag - latency) <= 1)
    }

    @Test(arguments: kinds)
    func missingLibraryIsATypedError(kind: DenoiserKind) throws {
        let error = try #require(throws: DuplexError.self) {
            try kind.makeDenoiser(directory: "/nonexistent/denoise")
        }
        #expect(error.code == .modelLoadFailed)
        #expect(error.message.contains("input.denoise"))
        #expect(error.message.contains("scripts/install-models.sh"))
        #expect(error.message.contains("/nonexistent/denoise/"))
    }

    @Test func missingDeepFilterNetModelIsATypedError() throws {
        let error = try #require(throws: DuplexError.self) {
            try DeepFilterNetDenoiser(
                libraryPath: TestAudio.denoiseDirectory + "/" + DeepFilterNetDenoiser.libraryFile,
                modelPath: "/nonexistent/DeepFilterNet3_onnx.tar.gz")
        }
        #expect(error.code == .modelLoadFailed)
        #expect(error.message.contains("input.denoise"))
        #expect(error.message.contains("scripts/install-models.sh"))
    }

    @Test func aFileThatIsNotALibraryIsATypedError() throws {
        let error = try #require(throws: DuplexError.self) {
            try RNNoiseDenoiser(libraryPath: "\(TestAudio.deps)/testdata/beckett.wav")
        }
        #expect(error.code == .modelLoadFailed)
        #expect(error.message.contains("input.denoise"))
        #expect(error.message.contains("scripts/install-models.sh"))
    }

    @Test func aModelThatIsNotAnArchiveIsATypedError() throws {
        let error = try #require(throws: DuplexError.self) {
            try DeepFilterNetDenoiser(
                libraryPath: TestAudio.denoiseDirectory + "/" + DeepFilterNetDenoiser.libraryFile,
                modelPath: "\(TestAudio.deps)/testdata/beckett.wav")
        }
        #expect(error.code == .modelLoadFailed)
        #expect(error.message.contains("scripts/install-models.sh"))
    }

    @Test func noneMakesNoDenoiser() throws {
        #expect(try DenoiserKind.none.makeDenoiser(directory: "/nonexistent") == nil)
        #expect(DenoiserKind(rawValue: "deepfilternet") == .deepfilternet)
        #expect(EchoCancellerKind(rawValue: "speex") == .speex)
        #expect(try EchoCancellerKind.none.makeEchoCanceller() == nil)
        #expect(try EchoCancellerKind.speex.makeEchoCanceller() != nil)
    }
}
