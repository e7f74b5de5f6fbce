import DuplexCore
import DuplexDSP
import Logging

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
        case resident(LoadedModel)
    }

    /// The catalog models are loaded from.
    public nonisolated let catalog: ModelCatalog
    private let normalizer: LoudnessNormalizer
    private let warmupText: String
    private let logger: Logger
    private var entries: [String: Entry] = [:]
    private var users: [String: Set<UInt64>] = [:]
    private var nextToken: UInt64 = 0

    /// Creates a manager.
    public init(catalog: ModelCatalog, normalizer: LoudnessNormalizer, warmupText: String = "Hello, this is a warmup.", logger: Logger) {
        self.catalog = catalog
        self.normalizer = normalizer
        self.warmupText = warmupText
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

    /// How many leases the model has.
    public func userCount(_ id: String) -> Int { users[id]?.count ?? 0 }

    /// Loads (if needed) and leases a model.
    public func acquire(_ id: String) async throws(DuplexError) -> ModelLease {
        let model = try await load(id)
        nextToken += 1
        users[id, default: []].insert(nextToken)
        return ModelLease(model: model, token: nextToken)
    }

    /// Returns a lease.
    public func release(_ lease: ModelLease) {
        let id = lease.model.descriptor.modelID
        users[id]?.remove(lease.token)
        if users[id]?.isEmpty == true { users[id] = nil }
    }

    /// Loads and warms up a model, or returns it if it is already resident.
    @discardableResult
    public func load(_ id: String) async throws(DuplexError) -> LoadedModel {
        switch entries[id] {
        case .resident(let model):
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
            let warmupText = self.warmupText
            // An unstructured task so concurrent callers can await the same load; it is
            // owned by `entries` and awaited by every caller.
            let task = Task<LoadedModel, any Error> {
                try await Self.loadAndWarm(descriptor, adapter: adapter, normalizer: normalizer, warmupText: warmupText)
            }
            entries[id] = .loading(task)
            do {
                let model = try await Self.wait(task)
                entries[id] = .resident(model)
                logger.info("model loaded", metadata: [
                    "model.id": "\(id)", "model.load_ms": "\(model.loadDuration.milliseconds)",
                    "model.warmup_ms": "\(model.warmupDuration.milliseconds)", "model.gain": "\(model.gain)",
                ])
                return model
            } catch {
                entries[id] = nil
                logger.error("model load failed", metadata: ["model.id": "\(id)", "error.message": "\(error.message)"])
                throw error
            }
        }
    }

    /// Unloads a model that no session uses.
    /// - Throws: ``DuplexError`` `modelInUse` with the number of users, or `unknownModel`.
    public func unload(_ id: String) async throws(DuplexError) {
        guard case .resident(let model) = entries[id] else {
            throw DuplexError(.unknownModel, "Model '\(id)' is not loaded.")
        }
        let count = users[id]?.count ?? 0
        guard count == 0 else {
            throw DuplexError(.modelInUse, "Model '\(id)' is in use by \(count) session(s); end them or switch them to another model first.")
        }
        entries[id] = nil
        await model.voice.unload()
        logger.info("model unloaded", metadata: ["model.id": "\(id)"])
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
        _ descriptor: ModelDescriptor, adapter: any TTSAdapter, normalizer: LoudnessNormalizer, warmupText: String
    ) async throws(DuplexError) -> LoadedModel {
        let clock = ContinuousClock()
        let loadStart = clock.now
        let voice = try await adapter.load(descriptor)
        let loadDuration = clock.now - loadStart
        let warmStart = clock.now
        let audio = try await voice.synthesize(warmupText, options: VoiceOptions())
        let resampler = try Resampler(from: voice.sampleRate, to: OutputFormat.sampleRate)
        var at48k = resampler.process(audio)
        at48k += resampler.flush()
        let gain = normalizer.gain(for: at48k)
        return LoadedModel(voice: voice, gain: gain, loadDuration: loadDuration, warmupDuration: clock.now - warmStart)
    }
}

