import DuplexCore
import Logging
import Synchronization

/// The models a worker can serve: built-in models of the enabled adapters plus the voice
/// packs found on disk. Thread-safe; ``rescan()`` replaces the pack entries atomically.
public final class ModelCatalog: Sendable {
    /// Enabled adapters by family.
    public let adapters: [String: any TTSAdapter]
    /// The voice-pack root folder.
    public let voicepacksDirectory: String
    private let models: Mutex<[ModelDescriptor]>
    private let logger: Logger

    /// Creates a catalog and scans the voice packs once.
    public init(adapters: [any TTSAdapter], voicepacksDirectory: String, logger: Logger) {
        self.adapters = Dictionary(adapters.map { ($0.family, $0) }, uniquingKeysWith: { first, _ in first })
        self.voicepacksDirectory = voicepacksDirectory
        self.logger = logger
        self.models = Mutex([])
        _ = rescan()
    }

    /// All models, built-ins first, in a stable order.
    public var all: [ModelDescriptor] { models.withLock { $0 } }

    /// The model with this id, if any.
    public func model(_ id: String) -> ModelDescriptor? {
        models.withLock { $0.first { $0.modelID == id } }
    }

    /// Rescans the voice packs and returns the rejected ones.
    @discardableResult
    public func rescan() -> [DuplexError] {
        let builtIns = adapters.values.sorted { $0.family < $1.family }.flatMap { $0.builtInModels() }
        let scan = VoicePackScanner.scan(root: voicepacksDirectory, adapters: adapters)
        for problem in scan.problems {
            logger.warning("voice pack rejected", metadata: ["error.message": "\(problem.message)"])
        }
        let packIDs = Set(scan.packs.map(\.modelID))
        // A pack with the same id as a built-in model replaces it.
        let merged = builtIns.filter { !packIDs.contains($0.modelID) } + scan.packs
        models.withLock { $0 = merged }
        return scan.problems
    }

    /// The best default: the first neural (piper) voice, else espeak, else anything.
    public func preferredDefault() -> ModelDescriptor? {
        let all = self.all
        return all.first { $0.family == "piper" } ?? all.first { $0.family == "espeak" } ?? all.first
    }
}
