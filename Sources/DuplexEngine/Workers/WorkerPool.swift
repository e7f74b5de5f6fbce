import DuplexConfig
import DuplexCore
import DuplexProto
import DuplexRegistry
import Logging
import ServiceLifecycle
import Synchronization

/// The workers an orchestrator may route to: a static list (or the embedded worker), or the
/// live set from the Redis registry.
///
/// Static: workers are picked round-robin, skipping ones whose last call failed until they
/// answer again. Registry: ``RegistryPoolService`` keeps one connection per registered worker
/// and the ``Router`` chooses among the ready ones by capability, language, resident model
/// and the configured strategy (docs/ROUTING.md).
public final class WorkerPool: Sendable {
    /// Health as last observed.
    public struct Health: Sendable {
        /// The worker's address.
        public var address: String
        /// Whether it answered `GetCapabilities`.
        public var reachable: Bool
        /// Whether its default model is loaded.
        public var ready: Bool
        /// Its configured name.
        public var name: String
        /// Models it has loaded.
        public var residentModels: [String]
        /// Its live metrics.
        public var metrics: [String: Double]
    }

    private struct State {
        var connections: [WorkerConnection]
        /// Registry mode: the live records, by address.
        var records: [String: WorkerRecord] = [:]
    }

    private let state: Mutex<State>
    private let failed = Mutex<Set<String>>([])
    /// Sessions this orchestrator has bound to each worker (fresher than the registry's
    /// heartbeat figures).
    private let assigned = Mutex<[String: Int]>([:])
    private let cursor = Atomic<Int>(0)
    private let router: Router?
    private let requiredCapabilities: Set<String>

    /// A static pool.
    public init(connections: [WorkerConnection]) {
        state = Mutex(State(connections: connections))
        router = nil
        requiredCapabilities = []
    }

    /// A pool fed by the registry (``RegistryPoolService`` adds and removes workers).
    public init(routing: RoutingSection) {
        state = Mutex(State(connections: []))
        router = Router(strategy: RoutingStrategy(rawValue: routing.strategy) ?? .leastLoaded)
        requiredCapabilities = Set(routing.requiredCapabilities)
    }

    /// The current connections.
    public var connections: [WorkerConnection] { state.withLock { $0.connections } }

    /// Whether workers come from the registry.
    public var usesRegistry: Bool { router != nil }

    /// Whether a failed reply can move to another worker (more than one, or a registry).
    public var usesFailover: Bool { usesRegistry || connections.count > 1 }

    /// The worker for a new worker session.
    /// - Parameters:
    ///   - modelID: the model the session wants (registry mode prefers workers where it is resident).
    ///   - excluding: addresses not to use (failover).
    /// - Throws: ``DuplexError`` (`workerUnavailable`) when no worker can serve.
    ///   - reserve: count a new session on the chosen worker at once (``release(_:)`` undoes it).
    public func pick(
        modelID: String? = nil, language: String? = nil, excluding: Set<String> = [], reserve: Bool = false
    ) throws(DuplexError) -> WorkerConnection {
        let (connections, records) = state.withLock { ($0.connections, $0.records) }
        let down = failed.withLock { $0 }.union(excluding)
        if let router {
            let usable = connections.filter { !$0.isStopped }
            let request = RouteRequest(
                requiredCapabilities: requiredCapabilities, language: language, modelID: modelID?.isEmpty == false ? modelID : nil)
            // Choose and count the session in one step, so concurrent sessions spread out.
            let chosen = assigned.withLock { local -> WorkerConnection? in
                let candidates = records.values.filter { record in usable.contains { $0.address == record.address } }.map { record in
                    var record = record
                    record.metrics.activeSessions = max(record.metrics.activeSessions, local[record.address] ?? 0)
                    record.metrics.queueDepth = max(record.metrics.queueDepth, local[record.address] ?? 0)
                    return record
                }
                // The router excludes by worker name; failures and exclusions are by address.
                let downNames = Set(candidates.filter { down.contains($0.address) }.map(\.name))
                // The model may be in no worker's catalog yet: then any healthy worker can say so.
                let ranked = router.rank(candidates, for: request, excluding: downNames)
                let fallback = ranked.isEmpty && request.modelID != nil
                    ? router.rank(candidates, for: RouteRequest(requiredCapabilities: requiredCapabilities), excluding: downNames) : ranked
                guard let best = fallback.first, let connection = usable.first(where: { $0.address == best.address }) else { return nil }
                if reserve { local[connection.address, default: 0] += 1 }
                return connection
            }
            if let chosen { return chosen }
            throw DuplexError(.workerUnavailable, "No registered worker can serve this session right now (registry: \(records.count) workers, \(down.count) unavailable).")
        }
        guard !connections.isEmpty else {
            throw DuplexError(.workerUnavailable, "No workers are configured (orchestrator.workers).")
        }
        let start = cursor.add(1, ordering: .relaxed).newValue
        var chosen: WorkerConnection?
        for offset in 0..<connections.count where chosen == nil {
            let candidate = connections[(start + offset) % connections.count]
            if !down.contains(candidate.address) { chosen = candidate }
        }
        if chosen == nil {
            guard excluding.isEmpty else { throw DuplexError(.workerUnavailable, "No other worker is available.") }
            // All look down: try one anyway (it may be back; the client reconnects by itself).
            chosen = connections[start % connections.count]
        }
        if reserve, let chosen { assign(chosen) }
        return chosen!
    }

    /// Picks a worker for a new worker session and counts the session on it until the
    /// reservation is released: one pick, whose worker is the one the session opens on (and
    /// the one a `worker_changed` announces).
    /// - Throws: ``DuplexError`` (`workerUnavailable`) when no worker can serve.
    /// - Parameter only: reserve this worker (by address) or none.
    public func reserve(
        modelID: String? = nil, language: String? = nil, excluding: Set<String> = [], only: String? = nil
    ) throws(DuplexError) -> WorkerReservation {
        var excluding = excluding
        if let only {
            let others = state.withLock { s in Set(s.connections.map(\.address)).union(s.records.values.map(\.address)) }
            excluding.formUnion(others.subtracting([only]))
        }
        let worker = try pick(modelID: modelID, language: language, excluding: excluding, reserve: true)
        guard only == nil || worker.address == only else {
            release(worker)
            throw DuplexError(.workerUnavailable, "Worker \(only ?? "") is no longer available.")
        }
        return WorkerReservation(worker: worker, pool: self)
    }

    /// Sessions counted on each worker by this orchestrator (reservations not yet released).
    public var reservations: [String: Int] { assigned.withLock { $0 } }

    /// Registry mode: whether any registered worker has `model` in its catalog.
    public func catalogsContain(_ model: String) -> Bool {
        state.withLock { $0.records.values.contains { $0.models.contains(model) } }
    }

    /// A session is now bound to the worker.
    public func assign(_ connection: WorkerConnection) {
        assigned.withLock { $0[connection.address, default: 0] += 1 }
    }

    /// A session left the worker.
    public func release(_ connection: WorkerConnection) {
        assigned.withLock { counts in
            let left = (counts[connection.address] ?? 0) - 1
            counts[connection.address] = left > 0 ? left : nil
        }
    }

    /// Records that a call to the worker failed because it was unreachable.
    public func markFailed(_ connection: WorkerConnection) {
        _ = failed.withLock { $0.insert(connection.address) }
    }

    /// Records that the worker answered.
    public func markHealthy(_ connection: WorkerConnection) {
        _ = failed.withLock { $0.remove(connection.address) }
    }

    /// Registry mode: replaces the live set; returns the connections to start and to stop.
    package func update(
        records: [WorkerRecord], timeout: Duration, link: WorkerLink = .plaintext
    ) -> (added: [WorkerConnection], removed: [WorkerConnection]) {
        state.withLock { state in
            var byAddress: [String: WorkerRecord] = [:]
            for record in records { byAddress[record.address] = record }
            state.records = byAddress
            let removed = state.connections.filter { byAddress[$0.address] == nil }
            state.connections.removeAll { byAddress[$0.address] == nil }
            var added: [WorkerConnection] = []
            for address in byAddress.keys.sorted() where !state.connections.contains(where: { $0.address == address }) {
                guard let parsed = try? WorkerAddress(parsing: address), let connection = try? WorkerConnection(address: parsed, timeout: timeout, link: link) else {
                    continue
                }
                state.connections.append(connection)
                added.append(connection)
            }
            return (added, removed)
        }
    }

    /// Asks every worker for its capabilities.
    public func health() async -> [Health] {
        let connections = self.connections
        return await withTaskGroup(of: (Int, Health).self) { group in
            for (index, connection) in connections.enumerated() {
                group.addTask {
                    do {
                        let response = try await connection.call { client, options in
                            try await client.getCapabilities(Duplex_Tts_V1_GetCapabilitiesRequest(), options: options)
                        }
                        self.markHealthy(connection)
                        return (index, Health(
                            address: connection.address, reachable: true, ready: response.ready, name: response.workerName,
                            residentModels: response.residentModels, metrics: response.metrics))
                    } catch {
                        self.markFailed(connection)
                        return (index, Health(address: connection.address, reachable: false, ready: false, name: "", residentModels: [], metrics: [:]))
                    }
                }
            }
            var results: [(Int, Health)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}

/// A worker picked for a session, counted on it in the pool until ``release()``.
public final class WorkerReservation: Sendable {
    /// The worker.
    public let worker: WorkerConnection
    private let pool: WorkerPool
    private let released = Atomic<Bool>(false)

    init(worker: WorkerConnection, pool: WorkerPool) {
        self.worker = worker
        self.pool = pool
    }

    /// Stops counting the session on the worker (idempotent).
    public func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pool.release(worker)
    }

    /// Whether it was released.
    public var isReleased: Bool { released.load(ordering: .acquiring) }
}
