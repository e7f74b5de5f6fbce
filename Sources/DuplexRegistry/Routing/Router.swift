import Synchronization

/// Picks the worker for a session from the live workers. Pure: no I/O, same input same output
/// (except for the round-robin position and the random strategy).
///
/// Rules, in order:
/// 1. Only workers that are ``WorkerRecord/ready`` and not in `excluding` (failover).
/// 2. The worker has every ``RouteRequest/requiredCapabilities``.
/// 3. If ``RouteRequest/language`` is set, one of the worker's languages matches it
///    (case-insensitive, by primary subtag: `en` matches `en-us` and vice versa).
/// 4. If ``RouteRequest/modelID`` is set, the worker lists it in ``WorkerRecord/models`` (or has it resident).
/// 5. Workers with the model resident come first; each group is ordered by the ``strategy``.
///
/// ```swift
/// let router = Router(strategy: .leastLoaded)
/// let request = RouteRequest(requiredCapabilities: ["streaming"], language: "en", modelID: "kokoro-82m")
/// if let decision = router.choose(from: watcher.workers, for: request) {
///     if decision.loadSuggested { /* ask decision.worker to load the model */ }
/// }
/// ```
public struct Router: Sendable {
    /// How eligible workers are ordered.
    public let strategy: RoutingStrategy
    private let state: RouterState

    /// Creates a router.
    /// - Parameters:
    ///   - strategy: How eligible workers are ordered. Default ``RoutingStrategy/leastLoaded``.
    ///   - randomSeed: Makes ``RoutingStrategy/random`` reproducible (tests); `nil` uses the system generator.
    public init(strategy: RoutingStrategy = .leastLoaded, randomSeed: UInt64? = nil) {
        self.strategy = strategy
        self.state = RouterState(seed: randomSeed)
    }

    /// The best worker for `request`, or `nil` if no worker is eligible.
    ///
    /// Same as the first of ``rank(_:for:excluding:)`` (and advances the round-robin position the same way).
    /// - Parameter excluding: Worker names to skip, e.g. the one that just failed.
    public func choose(from workers: [WorkerRecord], for request: RouteRequest, excluding: Set<String> = []) -> RouteDecision? {
        guard let best = rank(workers, for: request, excluding: excluding).first else { return nil }
        let resident = request.modelID.map { best.residentModels.contains($0) } ?? true
        // Resident workers rank first, so a non-resident best means resident nowhere eligible.
        return RouteDecision(worker: best, modelResident: resident, loadSuggested: !resident)
    }

    /// All eligible workers for `request`, best first: the failover order.
    ///
    /// Each call is one routing decision: it advances the round-robin position by one.
    public func rank(_ workers: [WorkerRecord], for request: RouteRequest, excluding: Set<String> = []) -> [WorkerRecord] {
        let eligible = workers.filter { Self.isEligible($0, for: request, excluding: excluding) }
        guard !eligible.isEmpty else { return [] }
        let resident: [WorkerRecord]
        let others: [WorkerRecord]
        if let modelID = request.modelID {
            resident = eligible.filter { $0.residentModels.contains(modelID) }
            others = eligible.filter { !$0.residentModels.contains(modelID) }
        } else {
            resident = eligible
            others = []
        }
        switch strategy {
        case .leastLoaded:
            return resident.sorted(by: Self.lessLoaded) + others.sorted(by: Self.lessLoaded)
        case .lowestLatency:
            return resident.sorted(by: Self.lowerLatency) + others.sorted(by: Self.lowerLatency)
        case .roundRobin:
            let position = state.nextPosition()
            return Self.rotated(resident, by: position) + Self.rotated(others, by: position)
        case .random:
            return state.shuffled(resident) + state.shuffled(others)
        }
    }

    // MARK: Rules

    static func isEligible(_ worker: WorkerRecord, for request: RouteRequest, excluding: Set<String>) -> Bool {
        guard worker.ready, !excluding.contains(worker.name) else { return false }
        if !request.requiredCapabilities.isEmpty, !request.requiredCapabilities.isSubset(of: worker.capabilities) {
            return false
        }
        if let language = request.language, !worker.languages.contains(where: { LanguageTag.matches(language, $0) }) {
            return false
        }
        if let modelID = request.modelID, !worker.models.contains(modelID), !worker.residentModels.contains(modelID) {
            return false
        }
        return true
    }

    /// Shorter predicted wait before a new reply's first clause can start (from the worker's
    /// inference queue, in 10 ms steps; idle workers tie at 0), then lower queue depth, then
    /// fewer active sessions, then name (a total order).
    static func lessLoaded(_ a: WorkerRecord, _ b: WorkerRecord) -> Bool {
        let (aWait, bWait) = ((a.metrics.predictedWaitMs / 10).rounded(), (b.metrics.predictedWaitMs / 10).rounded())
        if aWait != bWait { return aWait < bWait }
        if a.metrics.queueDepth != b.metrics.queueDepth { return a.metrics.queueDepth < b.metrics.queueDepth }
        if a.metrics.activeSessions != b.metrics.activeSessions { return a.metrics.activeSessions < b.metrics.activeSessions }
        return a.name < b.name
    }

    /// Lower known first-audio latency (0 = unknown, last), then ``lessLoaded(_:_:)``.
    static func lowerLatency(_ a: WorkerRecord, _ b: WorkerRecord) -> Bool {
        let aLatency = a.metrics.firstAudioP50Ms > 0 ? a.metrics.firstAudioP50Ms : .infinity
        let bLatency = b.metrics.firstAudioP50Ms > 0 ? b.metrics.firstAudioP50Ms : .infinity
        if aLatency != bLatency { return aLatency < bLatency }
        return lessLoaded(a, b)
    }

    static func rotated(_ workers: [WorkerRecord], by position: Int) -> [WorkerRecord] {
        guard !workers.isEmpty else { return [] }
        let byName = workers.sorted { $0.name < $1.name }
        let start = position % byName.count
        return Array(byName[start...] + byName[..<start])
    }
}

/// The router's mutable part, shared by copies of a ``Router``.
private final class RouterState: Sendable {
    private struct State {
        var position = 0
        var generator: SplitMix64?
    }

    private let state: Mutex<State>

    init(seed: UInt64?) {
        state = Mutex(State(generator: seed.map(SplitMix64.init(seed:))))
    }

    func nextPosition() -> Int {
        state.withLock { state in
            defer { state.position &+= 1 }
            return state.position & Int.max
        }
    }

    func shuffled(_ workers: [WorkerRecord]) -> [WorkerRecord] {
        // Sort first so a seeded shuffle does not depend on the input order.
        let byName = workers.sorted { $0.name < $1.name }
        return state.withLock { state in
            if var generator = state.generator {
                defer { state.generator = generator }
                return byName.shuffled(using: &generator)
            }
            return byName.shuffled()
        }
    }
}

/// A small seedable generator for reproducible random routing in tests.
private struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
