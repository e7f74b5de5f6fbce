import DuplexCore
import DuplexDSP
import DuplexTesting
import DuplexWorker
import Foundation
import Logging
import Synchronization
import Testing

/// A manual clock: time moves only when a test says so (no sleeping).
final class ManualClock: ModelManagerClock {
    private let current = Mutex<Duration>(.zero)
    func now() -> Duration { current.withLock { $0 } }
    func advance(_ by: Duration) { current.withLock { $0 += by } }
}

/// A family of cheap voices ("m0"… "m5") whose loads can be slowed down or made to fail,
/// and which records how many loads run at once — to test the manager's own rules.
final class ProbeAdapter: TTSAdapter {
    let family = "probe"
    let loadDelay: Duration
    let failing: Set<String>
    let running = Mutex(0)
    let peak = Mutex(0)
    let loads = Mutex<[String]>([])

    init(loadDelay: Duration = .zero, failing: Set<String> = []) {
        self.loadDelay = loadDelay
        self.failing = failing
    }

    func builtInModels() -> [ModelDescriptor] {
        (0..<6).map { ModelDescriptor(modelID: "m\($0)", family: family, languages: ["en"], sampleRate: 48_000) }
    }

    func validate(_ pack: ModelDescriptor) throws(DuplexError) {}

    func load(_ model: ModelDescriptor) async throws(DuplexError) -> any TTSVoice {
        let now = running.withLock { $0 += 1; return $0 }
        peak.withLock { $0 = max($0, now) }
        defer { running.withLock { $0 -= 1 } }
        loads.withLock { $0.append(model.modelID) }
        try? await Task.sleep(for: loadDelay)
        if failing.contains(model.modelID) { throw DuplexError(.modelLoadFailed, "probe failure for \(model.modelID)") }
        let sine = try await SineAdapter().load(SineAdapter().builtInModels()[0])
        return ProbeVoice(descriptor: model, inner: sine)
    }
}

struct ProbeVoice: TTSVoice {
    let descriptor: ModelDescriptor
    let inner: any TTSVoice
    var sampleRate: Int { inner.sampleRate }
    func synthesize(_ text: String, options: VoiceOptions, urgency: InferenceUrgency) async throws(DuplexError) -> [Float] {
        try await inner.synthesize(text, options: options, urgency: urgency)
    }
    func unload() async {}
}

@Suite struct ModelEvictionTests {
    private func make(
        _ adapter: ProbeAdapter = ProbeAdapter(), configure: (inout ModelPolicy) -> Void = { _ in }
    ) -> (ModelManager, ManualClock) {
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let catalog = ModelCatalog(adapters: [adapter], voicepacksDirectory: "/nonexistent", logger: logger)
        var policy = ModelPolicy()
        policy.ttl = .seconds(60)
        policy.minResidency = .seconds(10)
        policy.residentCap = 3
        configure(&policy)
        let clock = ManualClock()
        return (ModelManager(catalog: catalog, normalizer: .init(), policy: policy, clock: clock, logger: logger), clock)
    }

    @Test func idleModelsGoAfterTheTTLButNotBeforeMinResidency() async throws {
        let (manager, clock) = make { $0.ttl = .seconds(5); $0.minResidency = .seconds(30) }
        try await manager.load("m0")
        clock.advance(.seconds(20))  // past the TTL, not past min residency
        #expect(await manager.evictIdle().isEmpty)
        clock.advance(.seconds(15))
        #expect(await manager.evictIdle() == ["m0"])
        #expect(await manager.residentModelIDs.isEmpty)
        #expect(await manager.counters.evictions == 1)
    }

    @Test func useResetsTheTTL() async throws {
        let (manager, clock) = make()
        try await manager.load("m0")
        clock.advance(.seconds(50))
        let lease = try await manager.acquire("m0")
        await manager.release(lease)
        clock.advance(.seconds(50))  // 100 s since load, 50 s since use
        #expect(await manager.evictIdle().isEmpty)
        clock.advance(.seconds(11))
        #expect(await manager.evictIdle() == ["m0"])
    }

    @Test func leastRecentlyUsedIdleModelsGoFirstOverTheCap() async throws {
        let (manager, clock) = make { $0.residentCap = 3 }
        for id in ["m0", "m1", "m2"] {
            try await manager.load(id)
            clock.advance(.seconds(1))
        }
        clock.advance(.seconds(20))  // all past min residency
        let lease = try await manager.acquire("m0")  // m0 is now the most recently used
        await manager.release(lease)
        clock.advance(.seconds(1))
        try await manager.load("m3")  // over the cap: m1 (least recently used) goes
        #expect(await manager.residentModelIDs == ["m0", "m2", "m3"])
        clock.advance(.seconds(20))
        try await manager.load("m4")
        #expect(await manager.residentModelIDs == ["m0", "m3", "m4"])
    }

    @Test func modelsInUseAndPinnedModelsAreNeverEvicted() async throws {
        let (manager, clock) = make { $0.residentCap = 1; $0.pinned = ["m0"] }
        try await manager.load("m0")
        let lease = try await manager.acquire("m1")  // over the cap, but m0 is pinned and m1 is in use
        clock.advance(.seconds(3600))
        #expect(await manager.evictIdle().isEmpty)
        #expect(await manager.residentModelIDs == ["m0", "m1"])
        await manager.release(lease)
        #expect(await manager.evictIdle() == ["m1"])
        #expect(await manager.residentModelIDs == ["m0"])
    }

    @Test func theLoadSemaphoreBoundsConcurrentLoadsAndSameModelLoadsCoalesce() async throws {
        let adapter = ProbeAdapter(loadDelay: .milliseconds(50))
        let (manager, _) = make(adapter) { $0.maxParallelLoads = 2; $0.residentCap = 10 }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in ["m0", "m1", "m2", "m3", "m4", "m0", "m1"] {
                group.addTask { try await manager.load(id) }
            }
            try await group.waitForAll()
        }
        #expect(adapter.peak.withLock { $0 } == 2)
        #expect(adapter.loads.withLock { $0 }.sorted() == ["m0", "m1", "m2", "m3", "m4"])  // m0, m1 loaded once
        #expect(await manager.residentModelIDs.count == 5)
    }

    @Test func aFailedLoadLeavesNothingRegisteredAndCanBeRetried() async throws {
        let adapter = ProbeAdapter(failing: ["m2"])
        let (manager, _) = make(adapter)
        await #expect(throws: DuplexError.self) { try await manager.load("m2") }
        #expect(await manager.residentModelIDs.isEmpty)
        #expect(await manager.counters.failedLoads == 1)
        await #expect(throws: DuplexError.self) { try await manager.acquire("m2") }
        #expect(await manager.userCount("m2") == 0)
        try await manager.load("m1")
        #expect(await manager.residentModelIDs == ["m1"])
        let memory = await manager.residentModels.first?.memoryBytes ?? -1
        #expect(memory >= 0)
    }
}

@Suite struct ReloadTests {
    private func writePack(_ root: String, _ id: String, voice: String) throws {
        let dir = "\(root)/espeak/\(id)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "family: espeak\nmodel_id: \(id)\nlanguages: [\(voice)]\nsample_rate: 22050\nvoice: \(voice)\n"
            .write(toFile: "\(dir)/metadata.yaml", atomically: true, encoding: .utf8)
    }

    @Test func reloadPicksUpANewPackAndReloadsAChangedOneOnceUnused() async throws {
        let root = NSTemporaryDirectory() + "duplex-reload-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try writePack(root, "voice-a", voice: "en-us")
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let catalog = ModelCatalog(adapters: [EspeakAdapter()], voicepacksDirectory: root, logger: logger)
        let manager = ModelManager(catalog: catalog, normalizer: .init(), logger: logger)
        let lease = try await manager.acquire("voice-a")
        #expect(catalog.model("voice-b") == nil)

        // A new pack appears and voice-a's metadata changes (different size → new fingerprint).
        try writePack(root, "voice-b", voice: "de")
        try writePack(root, "voice-a", voice: "en-gb-x-rp")
        #expect(catalog.rescan().isEmpty)
        #expect(catalog.model("voice-b") != nil)
        // In use: kept for now, dropped when the session lets go.
        #expect(await manager.reconcileWithCatalog().isEmpty)
        #expect(await manager.isResident("voice-a"))
        await manager.release(lease)
        for _ in 0..<100 where await manager.isResident("voice-a") { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await !manager.isResident("voice-a"))
        // The next use loads the changed pack.
        let reloaded = try await manager.load("voice-a")
        #expect(reloaded.descriptor.metadata["voice"] == "en-gb-x-rp")
        // An unchanged resident model survives a RELOAD.
        try await manager.load("voice-b")
        _ = catalog.rescan()
        #expect(await manager.reconcileWithCatalog().isEmpty)
        #expect(await manager.isResident("voice-b"))
    }
}
