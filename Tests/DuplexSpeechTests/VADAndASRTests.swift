import DuplexCore
import DuplexDSP
import DuplexSherpa
import DuplexTesting
import DuplexWorker
import Foundation
import Testing

@Suite(.serialized) struct VoiceActivityDetectorTests {
    /// Piper speech at 16 kHz (a few phrases), to place between silences.
    static func speech(_ texts: [String]) async throws -> [[Float]] {
        let voice = try await SpeechModels.piper.load(try SpeechModels.joeDescriptor())
        var out: [[Float]] = []
        for text in texts {
            let audio = try await voice.synthesize(text, options: VoiceOptions())
            let resampler = try Resampler(from: voice.sampleRate, to: 16_000)
            out.append(resampler.process(audio) + resampler.flush())
        }
        return out
    }

    /// First and last sample above −40 dBFS: where the speech really is.
    static func activeRange(_ samples: [Float]) -> (Int, Int) {
        let threshold: Float = 0.01
        let first = samples.firstIndex { abs($0) > threshold } ?? 0
        let last = samples.lastIndex { abs($0) > threshold } ?? samples.count
        return (first, last)
    }

    @Test func findsSpeechSegmentsBetweenSilencesWithin100ms() async throws {
        let phrases = try await Self.speech([
            "Good morning, how are you today?", "I am fine, thank you.", "Let us meet again tomorrow at noon.",
        ])
        // 1.0 s silence, phrase, 1.2 s silence, phrase, 1.5 s silence, phrase, 1.0 s silence.
        var wave = [Float](repeating: 0, count: 16_000)
        var truth: [(Double, Double)] = []
        for (index, phrase) in phrases.enumerated() {
            let (first, last) = Self.activeRange(phrase)
            truth.append((Double(wave.count + first) / 16_000, Double(wave.count + last) / 16_000))
            wave += phrase
            wave += [Float](repeating: 0, count: [19_200, 24_000, 16_000][index])
        }
        // Write it as a WAV and read it back, as a user's file would arrive.
        let path = NSTemporaryDirectory() + "duplex-vad-\(UUID().uuidString).wav"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try WAVFile(samples: SampleConversion.int16(from: wave), sampleRate: 16_000).write(path: path)
        let file = try WAVFile.read(path: path)
        let input = SampleConversion.float(from: file.samples)

        let vad = try VoiceActivityDetector(model: TestAssets.sileroVAD, parameters: .preset(aggressiveness: 2))
        var events: [VADEvent] = []
        var offset = 0
        while offset < input.count {  // 20 ms chunks, as a client streams them
            let end = min(input.count, offset + 320)
            events += vad.accept(Array(input[offset..<end]))
            offset = end
        }
        events += vad.flush()
        let segments = events.compactMap { event -> (Double, Double)? in
            if case .speechEnded(let start, let end, _) = event { return (start, end) }
            return nil
        }
        let starts = events.compactMap { event -> Double? in
            if case .speechStarted(let at) = event { return at }
            return nil
        }
        print("VAD truth \(truth) found \(segments) starts \(starts)")
        #expect(segments.count == 3)
        #expect(starts.count == 3)
        for (found, expected) in zip(segments, truth) {
            #expect(abs(found.0 - expected.0) <= 0.1, "start \(found.0) vs \(expected.0)")
            #expect(abs(found.1 - expected.1) <= 0.1, "end \(found.1) vs \(expected.1)")
        }
        // Events alternate start/end and each start comes before its segment ends.
        var open = false
        for event in events {
            switch event {
            case .speechStarted: #expect(!open); open = true
            case .speechEnded: #expect(open); open = false
            }
        }
        #expect(!open)
    }

    @Test(arguments: [0, 1, 2, 3])
    func noSegmentsInSilenceOrNoise(aggressiveness: Int) throws {
        let vad = try VoiceActivityDetector(model: TestAssets.sileroVAD, parameters: .preset(aggressiveness: aggressiveness))
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<(16_000 * 6)).map { _ in Float.random(in: -0.1...0.1, using: &generator) }
        let silence = [Float](repeating: 0, count: 16_000 * 2)
        let events = vad.accept(silence) + vad.accept(noise) + vad.accept(silence) + vad.flush()
        #expect(events.isEmpty, "aggressiveness \(aggressiveness): \(events.count) events")
    }

    @Test func badModelOrThresholdIsATypedError() {
        #expect(throws: DuplexError.self) {
            _ = try VoiceActivityDetector(model: "/nonexistent/silero.onnx", parameters: .preset(aggressiveness: 2))
        }
        #expect(throws: DuplexError.self) {
            _ = try VoiceActivityDetector(
                model: TestAssets.sileroVAD, parameters: VADParameters(threshold: 1.5, minSpeechMs: 100, minSilenceMs: 100))
        }
    }
}

@Suite struct WhisperRecognizerTests {
    @Test func transcribesRecordedHumanSpeech() async throws {
        let wav = try WAVFile.read(path: TestAssets.clip("beckett"))
        #expect(wav.sampleRate == 16_000)
        let result = try await SpeechModels.transcribe(SampleConversion.float(from: wav.samples))
        print("beckett: \(result.text)")
        #expect(result.audioSeconds > 9)
        #expect(result.text.split(separator: " ").count >= 10)
    }

    @Test func longAudioIsTranscribedInPieces() async throws {
        let wav = try WAVFile.read(path: TestAssets.clip("two_cities"))
        let result = try await SpeechModels.transcribe(SampleConversion.float(from: wav.samples))
        print("two_cities (\(result.audioSeconds) s): \(result.text)")
        let text = result.text.lowercased()
        #expect(text.contains("best of times") && text.contains("worst of times"))
        // The clip is 44 s: words from its end must be there too (past Whisper's 30 s window).
        #expect(result.text.split(separator: " ").count > 80)
    }

    @Test func silenceGivesLittleOrNoTextAndMissingModelsAreTypedErrors() async throws {
        let result = try await SpeechModels.transcribe([Float](repeating: 0, count: 16_000))
        #expect(result.text.split(separator: " ").count <= 3)
        #expect(try await SpeechModels.transcribe([]).text.isEmpty)
        #expect(throws: DuplexError.self) { _ = try WhisperRecognizer(modelDirectory: "/nonexistent/whisper") }
    }
}
