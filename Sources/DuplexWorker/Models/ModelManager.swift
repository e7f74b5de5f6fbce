import DuplexCore
import DuplexDSP
import Foundation
import Logging
import Metrics

/// When models are loaded, kept and evicted.
public struct ModelPolicy: Sendable, Hashable {
    /// A model idle (no session) for longer than this is unloaded.
    public var ttl: Duration = .milliseconds(600_000)
    /// A model stays at least this long after loading.
    public var minResidency: Duration = .milliseconds(120_000)
    /// Most resident models; above it, the least recently used idle ones go first.
    public var residentCap = 3
    /// Most loads running at the same time.
    public var maxParallelLoads = 1
    /// Models never evicted (the worker's default model).
    public var pinned: Set<String> = []
    /// Whether each load is followed by a hidden warmup synthesis.
    public var warmup = true

    /// The defaults: TTL 10 min, min residency 2 min, cap 3, one load at a time, warmup on.
    public init() {}
}

/// A monotonic time source for the manager (real time, or a manual clock in tests).
public protocol ModelManagerClock: Sendable {
    /// Time since an arbitrary fixed origin.
    func now() -> Duration
}

/// Real monotonic time.
public struct SystemModelManagerClock: ModelManagerClock {
    private let origin = ContinuousClock.now
    /// Creates the clock.
    public init() {}
    public func now() -> Duration { origin.duration(to: .now) }
}

/// A voice that is loaded, warmed up and calibrated.
public struct LoadedModel: Sendable {
    /// The voice.
    public let voice: any TTSVoice
    /// Linear gain that brings this voice to the loudness target (measured at warmup).
    public let gain: Float
    /// How long loading took.
    public let loadDuration: Duration
    /// How long the warmup synthesis took.
    public let warmupDuration: Duration
    /// Inference time / audio duration of the warmup phrase once warm (best of three runs),
    /// on every inference thread; nil without warmup. The worker derives its capacity from it.
    public var warmupRealTimeFactor: Double?
    /// Estimated memory: the larger of the model files' size and the process RSS growth
    /// measured across the load.
    public var memoryBytes: Int = 0

    /// The catalog entry.
    public var descriptor: ModelDescriptor { voice.descriptor }
}

/// A model in use by one holder (a session). While any lease is held the model is never
/// unloaded. Release it with ``ModelManager/release(_:)``.
public struct ModelLease: Sendable {
    /// The leased model.
    public let model: LoadedModel
    /// Identity of this lease.
    let token: UInt64
}

/// Owns the loaded models of a worker: loads on demand (two requests for the same model
/// share one load), warms each model up and calibrates its loudness, counts users, and
/// unloads on request when unused.
public actor ModelManager {
    private enum Entry {
        case loading(Task<LoadedModel, any Error>)
        case resident(LoadedModel, loadedAt: Duration)
    }

    /// The catalog models are loaded from.
    public nonisolated let catalog: ModelCatalog
    /// Load, residency and eviction rules.
    public nonisolated let policy: ModelPolicy
    private let normalizer: LoudnessNormalizer
    private let warmupText: String
    private let logger: Logger
    private let clock: any ModelManagerClock
    private var entries: [String: Entry] = [:]
    private var users: [String: Set<UInt64>] = [:]
    private var lastUsed: [String: Duration] = [:]
    private var nextToken: UInt64 = 0
    private var stale: Set<String> = []
    private var loadsRunning = 0
    private var loadWaiters: [CheckedContinuation<Void, Never>] = []
    /// Counters for metrics and tests.
    public private(set) var counters = Counters()
    private let loadCounter = Counter(label: "duplex_model_loads_total")
    private let failedLoadCounter = Counter(label: "duplex_model_load_failures_total")
    private let unloadCounter = Counter(label: "duplex_model_unloads_total")
    private let evictionCounter = Counter(label: "duplex_model_evictions_total")
    private let loadTimer = Metrics.Timer(label: "duplex_model_load_seconds")
    private let residentGauge = Gauge(label: "duplex_models_resident")
    private let memoryGauge = Gauge(label: "duplex_models_resident_memory_bytes")

    /// What the manager has done since it started.
    public struct Counters: Sendable, Hashable {
        /// Successful loads.
        public var loads = 0
        /// Failed loads.
        public var failedLoads = 0
        /// Unloads (explicit and evictions).
        public var unloads = 0
        /// Evictions (TTL or cap).
        public var evictions = 0
        /// The most loads that ran at the same time.
        public var peakParallelLoads = 0
    }

    /// Creates a manager.
    public init(
        catalog: ModelCatalog, normalizer: LoudnessNormalizer, warmupText: String = "Hello, this is a warmup.",
        policy: ModelPolicy = ModelPolicy(), clock: any ModelManagerClock = SystemModelManagerClock(), logger: Logger
    ) {
        self.catalog = catalog
        self.normalizer = normalizer
        self.warmupText = warmupText
        self.policy = policy
        self.clock = clock
        self.logger = logger
    }

    /// Ids of the models currently loaded.
    public var residentModelIDs: [String] {
        entries.compactMap { id, entry in
            if case .resident = entry { return id }
            return nil
        }.sorted()
    }

    /// Whether the model is loaded.
    public func isResident(_ id: String) -> Bool {
        if case .resident = entries[id] { return true }
        return false
    }

    /// The resident models with their estimated memory, most recently used first.
    public var residentModels: [(id: String, memoryBytes: Int, idle: Duration)] {
        let now = clock.now()
        return entries.compactMap { id, entry -> (String, Int, Duration)? in
            guard case .resident(let model, _) = entry else { return nil }
            return (id, model.memoryBytes, now - (lastUsed[id] ?? now))
        }.sorted { $0.2 < $1.2 }
    }

    /// How many leases the model has.
    public func userCount(_ id: String) -> Int { users[id]?.count ?? 0 }

    /// Loads (if needed) and leases a model.
    public func acquire(_ id: String) async throws(DuplexError) -> ModelLease {
        let model = try await load(id)
        nextToken += 1
        users[id, default: []].insert(nextToken)
        lastUsed[id] = clock.now()
        return ModelLease(model: model, token: nextToken)
    }

    /// Returns a lease.
    public func release(_ lease: ModelLease) {
        let id = lease.model.descriptor.modelID
        users[id]?.remove(lease.token)
        if users[id]?.isEmpty == true { users[id] = nil }
        lastUsed[id] = clock.now()
        if users[id] == nil, stale.contains(id) {
            // Its pack changed or vanished (RELOAD) while it was in use: drop it now.
            stale.remove(id)
            Task { await self.dropIfUnused(id) }
        }
    }

    /// After a catalog rescan (RELOAD): resident models whose pack changed or disappeared are
    /// unloaded — at once when unused, otherwise when their last session lets go — so the next
    /// use loads the new files. Returns the ids unloaded now.
    @discardableResult
    public func reconcileWithCatalog() async -> [String] {
        var dropped: [String] = []
        for (id, entry) in entries {
            guard case .resident(let model, _) = entry else { continue }
            let current = catalog.model(id)
            let changed = current == nil || current?.metadata["fingerprint"] != model.descriptor.metadata["fingerprint"]
                || current?.files != model.descriptor.files
            guard changed else { continue }
            if users[id] == nil {
                if await dropIfUnused(id) { dropped.append(id) }
            } else {
                stale.insert(id)
            }
        }
        return dropped
    }

    @discardableResult
    private func dropIfUnused(_ id: String) async -> Bool {
        await remove(id, reason: "pack changed")
    }

    /// The one way a resident, unused model leaves: forget it, count it, free it.
    /// `reason` is `explicit`, `pack changed`, or an eviction reason (`ttl`, `cap`).
    @discardableResult
    private func remove(_ id: String, reason: String) async -> Bool {
        guard case .resident(let model, _) = entries[id], users[id] == nil else { return false }
        entries[id] = nil
        lastUsed[id] = nil
        counters.unloads += 1
        unloadCounter.increment()
        if reason == "ttl" || reason == "cap" {
            counters.evictions += 1
            evictionCounter.increment()
        }
        updateGauges()
        await model.voice.unload()
        logger.info("model unloaded", metadata: ["model.id": "\(id)", "unload.reason": "\(reason)"])
        return true
    }

    /// Loads and warms up a model, or returns it if it is already resident.
    @discardableResult
    public func load(_ id: String) async throws(DuplexError) -> LoadedModel {
        switch entries[id] {
        case .resident(let model, _):
            lastUsed[id] = clock.now()
            return model
        case .loading(let task):
            return try await Self.wait(task)
        case nil:
            guard let descriptor = catalog.model(id) else {
                throw DuplexError(.unknownModel, "No model '\(id)' is installed. `duplex models list` shows the installed ones.")
            }
            guard let adapter = catalog.adapters[descriptor.family] else {
                throw DuplexError(.unknownModel, "Model '\(id)' needs the '\(descriptor.family)' adapter, which is not enabled.")
            }
            let normalizer = self.normalizer
            let warmupText = policy.warmup ? self.warmupText : nil
            // An unstructured task so concurrent callers can await the same load; it is
            // owned by `entries` and awaited by every caller. The load semaphore bounds how
            // many run at once.
            let task = Task<LoadedModel, any Error> {
                // The task runs on the manager's actor: the slot is released in the same step.
                await self.acquireLoadSlot()
                defer { self.releaseLoadSlot() }
                return try await Self.loadAndWarm(descriptor, adapter: adapter, normalizer: normalizer, warmupText: warmupText)
            }
            entries[id] = .loading(task)
            do {
                let model = try await Self.wait(task)
                entries[id] = .resident(model, loadedAt: clock.now())
                lastUsed[id] = clock.now()
                counters.loads += 1
                loadCounter.increment()
                loadTimer.recordNanoseconds(Int64(model.loadDuration.millisecondsDouble * 1e6))
                await enforceCap(keeping: id)
                updateGauges()
                logger.info("model loaded", metadata: [
                    "model.id": "\(id)", "model.load_ms": "\(model.loadDuration.milliseconds)",
                    "model.warmup_ms": "\(model.warmupDuration.milliseconds)", "model.gain": "\(model.gain)",
                ])
                return model
            } catch {
                entries[id] = nil
                counters.failedLoads += 1
                failedLoadCounter.increment()
                logger.error("model load failed", metadata: ["model.id": "\(id)", "error.message": "\(error.message)"])
                throw error
            }
        }
    }

    /// Unloads a model that no session uses.
    /// - Throws: ``DuplexError`` `modelInUse` with the number of users, or `unknownModel`.
    public func unload(_ id: String) async throws(DuplexError) {
        guard case .resident = entries[id] else {
            throw DuplexError(.unknownModel, "Model '\(id)' is not loaded.")
        }
        let count = users[id]?.count ?? 0
        guard count == 0 else {
            throw DuplexError(.modelInUse, "Model '\(id)' is in use by \(count) session(s); end them or switch them to another model first.")
        }
        await remove(id, reason: "explicit")
    }

    /// Unloads idle models past their TTL (and past min residency), then least recently
    /// used idle models while more than `residentCap` are resident. Models in use and pinned
    /// models are never evicted. Returns the evicted ids. The ``ModelEvictor`` service calls
    /// this periodically; tests call it directly with a manual clock.
    @discardableResult
    public func evictIdle() async -> [String] {
        let now = clock.now()
        var evicted: [String] = []
        for (id, idle) in evictionCandidates(now: now) where idle > policy.ttl {
            if await evict(id, reason: "ttl") { evicted.append(id) }
        }
        evicted += await enforceCap(keeping: nil)
        return evicted
    }

    /// Idle, unpinned models past min residency, least recently used first, with idle time.
    private func evictionCandidates(now: Duration) -> [(String, Duration)] {
        entries.compactMap { id, entry -> (String, Duration)? in
            guard case .resident(_, let loadedAt) = entry, users[id] == nil, !policy.pinned.contains(id),
                now - loadedAt >= policy.minResidency
            else { return nil }
            return (id, now - (lastUsed[id] ?? loadedAt))
        }.sorted { $0.1 > $1.1 }
    }

    @discardableResult
    private func enforceCap(keeping: String?) async -> [String] {
        var evicted: [String] = []
        let now = clock.now()
        var resident = entries.values.filter { if case .resident = $0 { true } else { false } }.count
        for (id, _) in evictionCandidates(now: now) where resident > policy.residentCap && id != keeping {
            if await evict(id, reason: "cap") {
                evicted.append(id)
                resident -= 1
            }
        }
        return evicted
    }

    private func evict(_ id: String, reason: String) async -> Bool {
        await remove(id, reason: reason)
    }

    private func updateGauges() {
        var count = 0
        var memory = 0
        for entry in entries.values {
            if case .resident(let model, _) = entry {
                count += 1
                memory += model.memoryBytes
            }
        }
        residentGauge.record(count)
        memoryGauge.record(memory)
    }

    private func acquireLoadSlot() async {
        if loadsRunning < max(1, policy.maxParallelLoads) {
            loadsRunning += 1
        } else {
            await withCheckedContinuation { loadWaiters.append($0) }
            // The releasing load handed its slot over.
        }
        counters.peakParallelLoads = max(counters.peakParallelLoads, loadsRunning)
    }

    private func releaseLoadSlot() {
        if loadWaiters.isEmpty {
            loadsRunning -= 1
        } else {
            loadWaiters.removeFirst().resume()
        }
    }

    private static func wait(_ task: Task<LoadedModel, any Error>) async throws(DuplexError) -> LoadedModel {
        do {
            return try await task.value
        } catch let error as DuplexError {
            throw error
        } catch {
            throw DuplexError(.modelLoadFailed, "Loading failed: \(error)", cause: error)
        }
    }

    private static func loadAndWarm(
        _ descriptor: ModelDescriptor, adapter: any TTSAdapter, normalizer: LoudnessNormalizer, warmupText: String?
    ) async throws(DuplexError) -> LoadedModel {
        let clock = ContinuousClock()
        let rssBefore = ProcessMemory.residentBytes
        let loadStart = clock.now
        let voice = try await adapter.load(descriptor)
        let loadDuration = clock.now - loadStart
        let warmStart = clock.now
        // The warmup phrase also calibrates loudness; without warmup the gain is neutral.
        var gain: Float = 1
        if let warmupText {
            let audio = try await voice.synthesize(warmupText, options: VoiceOptions())
            let resampler = try Resampler(from: voice.sampleRate, to: OutputFormat.sampleRate)
            var at48k = resampler.process(audio)
            at48k += resampler.flush()
            gain = normalizer.gain(for: at48k)
        }
        let warmupDuration = clock.now - warmStart
        // Warm runs measure the real-time factor (the first run includes one-off costs); the
        // best of three, so a busy moment at start does not shrink the worker's capacity.
        var realTimeFactor: Double?
        if let warmupText {
            for _ in 0..<3 {
                let start = clock.now
                let audio = try await voice.synthesize(warmupText, options: VoiceOptions())
                guard !audio.isEmpty else { break }
                let rtf = (clock.now - start).millisecondsDouble / 1000 / (Double(audio.count) / Double(voice.sampleRate))
                realTimeFactor = min(realTimeFactor ?? rtf, rtf)
            }
        }
        let fileBytes = descriptor.files.values.reduce(0) { total, path in
            total + ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0)
        }
        var model = LoadedModel(voice: voice, gain: gain, loadDuration: loadDuration, warmupDuration: warmupDuration)
        model.warmupRealTimeFactor = realTimeFactor
        model.memoryBytes = max(fileBytes, ProcessMemory.residentBytes - rssBefore)
        return model
    }
}

