import DuplexConformance
import DuplexCore
import DuplexDSP
import DuplexSherpa
import DuplexTesting
import DuplexWorker
import Foundation
import Logging
import Testing

/// Shared, lazily loaded speech models (loading Piper and Whisper once for the suite).
enum SpeechModels {
    static let cache = NSTemporaryDirectory() + "duplex-test-cache"

    static let piper: PiperAdapter = PiperAdapter(cacheDirectory: cache, inference: InferenceOptions(threads: 2))

    static func joeDescriptor() throws -> ModelDescriptor {
        let result = VoicePackScanner.scan(root: TestAssets.voicepacks, adapters: ["piper": piper])
        return try #require(result.packs.first { $0.modelID == "piper-en-us-joe" }, "run scripts/setup.sh: \(result.problems)")
    }

    static func manager() -> ModelManager {
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let catalog = ModelCatalog(adapters: [piper], voicepacksDirectory: TestAssets.voicepacks, logger: logger)
        return ModelManager(catalog: catalog, normalizer: LoudnessNormalizer(mode: .lufs, target: -16), logger: logger)
    }

    static let whisper: Result<WhisperRecognizer, DuplexError> = Result { () throws(DuplexError) in
        try WhisperRecognizer(modelDirectory: TestAssets.whisperTinyEn)
    }

    /// Whisper decodes for checks run here, one at a time, never on a Swift concurrency
    /// thread: a decode of several seconds there would stall every test running beside it.
    static let decoder = BlockingExecutor(name: "test-whisper", threads: 1)

    /// What Whisper hears in 16 kHz audio.
    static func transcribe(_ audio: [Float]) async throws -> Transcription {
        let recognizer = try whisper.get()
        return try await decoder.run { recognizer.transcribe(audio) }
    }

    /// 48 kHz s16le frames → 16 kHz floats.
    static func downsample(frames: [Data]) throws -> [Float] {
        var pcm: [Int16] = []
        pcm.reserveCapacity(frames.count * OutputFormat.samplesPerFrame)
        for frame in frames {
            frame.withUnsafeBytes { raw in pcm.append(contentsOf: raw.bindMemory(to: Int16.self)) }
        }
        let resampler = try Resampler(from: 48_000, to: 16_000)
        return resampler.process(SampleConversion.float(from: pcm)) + resampler.flush()
    }
}

@Suite(.serialized) struct PiperVoiceTests {
    static let sentences = [
        "The quick brown fox jumps over the lazy dog.",
        "Please call me back when you get this message.",
        "The weather today is sunny with a light breeze.",
        "I would like to order a large pizza with mushrooms.",
        "Our meeting has been moved to Thursday afternoon.",
        "She walked to the station and caught the early train.",
        "Turn left at the next corner and keep going straight.",
        "The library closes at nine o'clock in the evening.",
        "He plays the guitar every night before going to bed.",
        "We need to buy bread, milk and some fresh apples.",
        "It costs $3.50, which is about 25% less than last year.",
    ]

    @Test func synthesizedFramesRoundTripThroughWhisper() async throws {
        let manager = SpeechModels.manager()
        let lease = try await manager.acquire("piper-en-us-joe")
        defer { Task { await manager.release(lease) } }
        #expect(lease.model.voice.sampleRate == 22_050)
        _ = try SpeechModels.whisper.get()
        var errors = 0.0, words = 0.0
        for sentence in Self.sentences {
            let pipeline = SynthesisPipeline(
                model: lease.model, options: VoiceOptions(), leadFrames: 3, synthesisAhead: 2, maxCharacters: 10_000,
                clock: ImmediateClock())
            let frames = Locked<[Data]>([])
            let texts = Locked([TextPiece(text: sentence, isFinal: true)])
            let (reason, figures) = try await pipeline.run(
                SynthesisRun(), nextText: { texts.withLock { $0.isEmpty ? nil : $0.removeFirst() } },
                emit: { frame in if !frame.isFinal { frames.withLock { $0.append(frame.pcm) } } })
            #expect(reason == .completed)
            let pcm = frames.withLock { $0 }
            #expect(pcm.allSatisfy { $0.count == OutputFormat.bytesPerFrame })
            let seconds = Double(pcm.count) * 0.02
            #expect(seconds > 1.0 && seconds < 8.0, "\(sentence): \(seconds) s")
            // Only a sanity bound: the suite runs Whisper, Chromium and several Piper workers in
            // parallel on 2 cores (`duplex bench tts --local-rtf` gives the real figure, ~0.06).
            #expect(figures.realTimeFactors.allSatisfy { $0 < 30 }, "far slower than real time: \(figures.realTimeFactors)")
            let heard = try await SpeechModels.transcribe(try SpeechModels.downsample(frames: pcm)).text
            let reference = TextNormalizer().normalize(sentence)
            let wer = wordErrorRate(reference: reference, hypothesis: TextNormalizer().normalize(heard))
            let count = Double(reference.split(separator: " ").count)
            errors += wer * count
            words += count
            print("piper→whisper WER \(String(format: "%.2f", wer)): '\(sentence)' → '\(heard)'")
        }
        let total = errors / words
        print("piper→whisper overall WER \(String(format: "%.3f", total)) over \(Self.sentences.count) sentences")
        #expect(total <= 0.15)
    }

    @Test func speedOptionChangesDurationAndNoiseOptionsLoadAVariant() async throws {
        let voice = try await SpeechModels.piper.load(try SpeechModels.joeDescriptor())
        let text = "Speed control changes how long this sentence takes."
        let normal = try await voice.synthesize(text, options: VoiceOptions())
        let fast = try await voice.synthesize(text, options: try VoiceOptions(parsing: ["speed": "1.5"]))
        let slow = try await voice.synthesize(text, options: try VoiceOptions(parsing: ["speed": "0.7"]))
        #expect(Double(fast.count) < Double(normal.count) * 0.9)  // VITS durations are sampled: generous bounds
        #expect(Double(slow.count) > Double(normal.count) * 1.15)
        let calm = try await voice.synthesize(text, options: try VoiceOptions(parsing: ["noise_scale": "0.1", "noise_w": "0.1"]))
        #expect(calm.count > normal.count / 2 && calm.count < normal.count * 2)
        #expect(calm.map(abs).max() ?? 0 > 0.05)
        // Nothing speakable: no audio, no error.
        #expect(try await voice.synthesize("🙂 ...", options: VoiceOptions()).isEmpty)
        await voice.unload()
    }

    @Test func preparedCopyLeavesTheOriginalUntouchedAndIsReused() throws {
        let pack = try SpeechModels.joeDescriptor()
        let model = try #require(pack.files["model"]), configPath = try #require(pack.files["config"])
        let before = try Data(contentsOf: URL(fileURLWithPath: model), options: .alwaysMapped)
        #expect(try OnnxMetadata.entries(in: before)["sample_rate"] == nil)
        let cache = NSTemporaryDirectory() + "duplex-prep-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let preparer = PiperModelPreparer(cacheDirectory: cache)
        let config = try PiperVoiceConfig.load(path: configPath)
        let first = try preparer.prepare(model: model, config: config, configPath: configPath)
        let second = try preparer.prepare(model: model, config: config, configPath: configPath)
        #expect(first.created && !second.created && first.model == second.model)
        let prepared = try Data(contentsOf: URL(fileURLWithPath: first.model), options: .alwaysMapped)
        let entries = try OnnxMetadata.entries(in: prepared)
        #expect(entries["model_type"] == "vits" && entries["sample_rate"] == "22050" && entries["voice"] == "en-us")
        #expect(prepared.count > before.count && prepared.prefix(before.count) == before)
        let after = try Data(contentsOf: URL(fileURLWithPath: model), options: .alwaysMapped)
        #expect(after == before)
        let tokens = try String(contentsOfFile: first.tokens, encoding: .utf8)
        #expect(tokens.hasPrefix("_ 0\n^ 1\n$ 2\n  3\n"))
    }

    @Test func phonemizerKeepsPunctuationAndSentenceBoundaries() async throws {
        let config = try PiperVoiceConfig.load(path: TestAssets.piperJoe + "/en_US-joe-medium.onnx.json")
        let phonemizer = PiperPhonemizer(voice: "en-us", knownCodepoints: config.knownCodepoints())
        let sentences = try await phonemizer.phonemize("Hello, world. How are you?")
        #expect(sentences.count == 2)
        let first = String(String.UnicodeScalarView(sentences[0].compactMap { Unicode.Scalar(UInt32($0)) }))
        let second = String(String.UnicodeScalarView(sentences[1].compactMap { Unicode.Scalar(UInt32($0)) }))
        #expect(first.contains(", ") && first.hasSuffix("."))
        #expect(second.hasSuffix("?"))
        #expect(first.contains("h") && first.contains("w"))
        #expect(try await phonemizer.phonemize("").isEmpty)
    }
}

@Suite struct PiperPackTests {
    private func makePack(_ root: String, _ name: String, json: String?, model: Data = Data(count: 4096), yaml: String? = nil) throws {
        let dir = "\(root)/piper/\(name)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try model.write(to: URL(fileURLWithPath: "\(dir)/voice.onnx"))
        if let json { try json.write(toFile: "\(dir)/voice.onnx.json", atomically: true, encoding: .utf8) }
        if let yaml { try yaml.write(toFile: "\(dir)/metadata.yaml", atomically: true, encoding: .utf8) }
    }

    @Test func brokenPiperPacksAreRejectedWithAReasonAndDroppedInVoicesAreFound() throws {
        let root = NSTemporaryDirectory() + "duplex-piper-packs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let good = try String(contentsOfFile: TestAssets.piperJoe + "/en_US-joe-medium.onnx.json", encoding: .utf8)
        try makePack(root, "dropped-in", json: good)  // no metadata.yaml: described from the .onnx.json
        try makePack(root, "no-config", json: nil)
        try makePack(root, "bad-json", json: "{not json")
        try makePack(root, "text-phonemes", json: good.replacingOccurrences(of: "\"phoneme_type\": \"espeak\"", with: "\"phoneme_type\": \"text\""))
        try makePack(root, "empty-model", json: good, model: Data())
        try makePack(
            root, "rate-mismatch", json: good,
            yaml: "family: piper\nlanguages: [en-us]\nsample_rate: 16000\nfiles: {model: voice.onnx, config: voice.onnx.json}\n")
        let result = VoicePackScanner.scan(root: root, adapters: ["piper": SpeechModels.piper])
        #expect(result.packs.map(\.modelID) == ["dropped-in"])
        #expect(result.packs.first?.languages == ["en-us"] && result.packs.first?.sampleRate == 22_050)
        #expect(result.problems.count == 5)
        #expect(result.problems.allSatisfy { $0.code == .invalidVoicePack })
        let messages = result.problems.map(\.message).joined(separator: "\n")
        for expected in ["voice.onnx.json", "not a valid Piper", "phoneme_type 'text'", "empty or truncated", "sample_rate 16000"] {
            #expect(messages.contains(expected), "missing '\(expected)' in:\n\(messages)")
        }
    }

    @Test func aCorruptModelFailsToLoadWithATypedError() async throws {
        let root = NSTemporaryDirectory() + "duplex-piper-corrupt-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let good = try String(contentsOfFile: TestAssets.piperJoe + "/en_US-joe-medium.onnx.json", encoding: .utf8)
        try makePack(root, "garbage", json: good, model: Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7919) }))
        let adapter = PiperAdapter(cacheDirectory: root + "/cache", inference: InferenceOptions(threads: 1))
        let pack = try #require(VoicePackScanner.scan(root: root, adapters: ["piper": adapter]).packs.first)
        await #expect(throws: DuplexError.self) { _ = try await adapter.load(pack) }
        do {
            _ = try await adapter.load(pack)
        } catch {
            #expect([DuplexError.Code.invalidVoicePack, .modelLoadFailed].contains(error.code))
        }
    }
}

/// The worker conformance kit against the Piper adapter (a non-deterministic neural voice).
@Suite struct PiperConformanceTests {
    @Test func thePiperAdapterPassesTheConformanceKit() async throws {
        let config = InProcessWorker.configuration(adapters: ["piper"], defaultModel: "piper-en-us-joe", voicepacks: TestAssets.voicepacks)
        var relaxed = WorkerConformance.Settings()
        relaxed.enforceTiming = false
        let settings = relaxed
        let report = try await InProcessWorker.with(config) { connection in
            await WorkerConformance(worker: connection, settings: settings).run()
        }
        print("conformance of piper:\n\(report.table)")
        #expect(report.passed, "\(report.table)")
    }
}
