import DuplexCore
import DuplexDSP
import DuplexWorker
import Foundation
import Logging
import Testing

@Suite struct VoicePackScannerTests {
    private func makeRoot() throws -> String {
        let root = NSTemporaryDirectory() + "duplex-packs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return root
    }

    private func write(_ root: String, _ family: String, _ id: String, _ yaml: String) throws {
        let dir = "\(root)/\(family)/\(id)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try yaml.write(toFile: "\(dir)/metadata.yaml", atomically: true, encoding: .utf8)
    }

    @Test func validPacksAreFoundAndBrokenOnesRejectedWithAReason() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try write(root, "espeak", "espeak-de", "family: espeak\nmodel_id: espeak-de\nlanguages: [de]\nsample_rate: 22050\nvoice: de\ntags: [cpu_ok]\n")
        try write(root, "espeak", "no-langs", "family: espeak\nsample_rate: 22050\nvoice: fr\n")
        try write(root, "espeak", "wrong-family", "family: piper\nlanguages: [en]\nsample_rate: 22050\n")
        try write(root, "espeak", "bad-yaml", "family: [espeak\n")
        try write(root, "espeak", "missing-file", "family: espeak\nlanguages: [en]\nsample_rate: 22050\nfiles:\n  model: nothere.onnx\n")
        try write(root, "espeak", "bad-rate", "family: espeak\nlanguages: [en]\nsample_rate: fast\n")
        try write(root, "unknown", "x", "family: unknown\nlanguages: [en]\nsample_rate: 22050\n")
        let result = VoicePackScanner.scan(root: root, adapters: ["espeak": EspeakAdapter(), "sine": SineAdapter()])
        #expect(result.packs.map(\.modelID) == ["espeak-de"])
        #expect(result.packs.first?.languages == ["de"])
        #expect(result.packs.first?.tags == ["cpu_ok"])
        #expect(result.problems.count == 6)
        #expect(result.problems.allSatisfy { $0.code == .invalidVoicePack && !$0.message.isEmpty })
        let messages = result.problems.map(\.message).joined(separator: "\n")
        #expect(messages.contains("languages"))
        #expect(messages.contains("nothere.onnx"))
        #expect(messages.contains("sample_rate"))
        #expect(messages.contains("not enabled"))
    }

    @Test func missingRootIsEmpty() {
        let result = VoicePackScanner.scan(root: "/nonexistent/duplex", adapters: [:])
        #expect(result.packs.isEmpty && result.problems.isEmpty)
    }
}

@Suite struct AdapterTests {
    @Test func espeakSpeaksAndSineTonesScaleWithText() async throws {
        let espeak = try await EspeakAdapter().load(EspeakAdapter().builtInModels()[0])
        let audio = try await espeak.synthesize("Hello there.", options: VoiceOptions())
        #expect(espeak.sampleRate == 22_050)
        #expect(Double(audio.count) / 22_050 > 0.4)
        #expect(audio.map(abs).max() ?? 0 > 0.1)
        let faster = try await espeak.synthesize("Hello there.", options: try VoiceOptions(parsing: ["speed": "2.0"]))
        #expect(faster.count < audio.count)

        let sine = try await SineAdapter().load(SineAdapter().builtInModels()[0])
        let short = try await sine.synthesize("one", options: VoiceOptions())
        let long = try await sine.synthesize("one two three four", options: VoiceOptions())
        #expect(long.count == 4 * short.count)
    }

    @Test func voiceOptionsAreValidated() {
        #expect(throws: DuplexError.self) { try VoiceOptions(parsing: ["speed": "9"]) }
        #expect(throws: DuplexError.self) { try VoiceOptions(parsing: ["pitch": "1"]) }
        #expect((try? VoiceOptions(parsing: ["speed": "1.5"]))?.speed == 1.5)
    }
}

@Suite struct ModelManagerTests {
    private func manager() -> ModelManager {
        let logger = Logger(label: "test")
        let catalog = ModelCatalog(adapters: [SineAdapter(), EspeakAdapter()], voicepacksDirectory: "/nonexistent", logger: logger)
        return ModelManager(catalog: catalog, normalizer: .init(), logger: logger)
    }

    @Test func concurrentLoadsShareOneLoadAndUnloadIsRefusedWhileInUse() async throws {
        let manager = manager()
        async let a = manager.acquire("espeak-en-us")
        async let b = manager.acquire("espeak-en-us")
        let (first, second) = try await (a, b)
        #expect(first.model.loadDuration == second.model.loadDuration)  // one load, shared
        #expect(await manager.userCount("espeak-en-us") == 2)
        await #expect(throws: DuplexError.self) { try await manager.unload("espeak-en-us") }
        await manager.release(first)
        await manager.release(second)
        try await manager.unload("espeak-en-us")
        #expect(await manager.residentModelIDs.isEmpty)
    }

    @Test func unknownModelIsATypedError() async {
        let manager = manager()
        do {
            _ = try await manager.acquire("nope")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .unknownModel)
        }
        #expect(await manager.residentModelIDs.isEmpty)
    }

    @Test func warmupCalibratesLoudness() async throws {
        let model = try await manager().load("sine-440")
        // A 0.5-amplitude sine is about −9 LUFS; the gain brings it down to −16.
        #expect(model.gain < 0.6 && model.gain > 0.3)
    }
}

@Suite struct PlaybackGateTests {
    @Test func pauseHoldsUntilResumeAndStopIsFinal() async {
        let gate = PlaybackGate()
        #expect(await gate.pass() == .proceed)
        gate.pause()
        async let waited = gate.pass()
        try? await Task.sleep(for: .milliseconds(50))
        gate.resume()
        #expect(await waited == .resumed)
        gate.pause()
        async let stopped = gate.pass()
        try? await Task.sleep(for: .milliseconds(20))
        gate.stop()
        #expect(await stopped == .stopped)
        #expect(!gate.resume())
        #expect(await gate.pass() == .stopped)
    }
}

@Suite struct AsyncBoundedQueueTests {
    @Test func backPressureAndOrder() async throws {
        let queue = AsyncBoundedQueue<Int>(capacity: 2)
        let producer = Task {
            for i in 0..<100 { try await queue.send(i) }
            queue.finish()
        }
        var received: [Int] = []
        while let value = try await queue.next() {
            #expect(queue.count <= 2)
            received.append(value)
        }
        try await producer.value
        #expect(received == Array(0..<100))
    }

    @Test func finishWithErrorIsDeliveredAfterBufferedItems() async throws {
        let queue = AsyncBoundedQueue<Int>(capacity: 4)
        try await queue.send(1)
        queue.finish(throwing: DuplexError(.internal, "boom"))
        #expect(try await queue.next() == 1)
        await #expect(throws: DuplexError.self) { try await queue.next() }
    }
}
