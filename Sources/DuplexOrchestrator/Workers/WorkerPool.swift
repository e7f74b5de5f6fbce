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
                // The model may be in no worker's catalog yet: then any healthy worker can say so.
                let ranked = router.rank(candidates, for: request, excluding: down)
                let fallback = ranked.isEmpty && request.modelID != nil
                    ? router.rank(candidates, for: RouteRequest(requiredCapabilities: requiredCapabilities), excluding: down) : ranked
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
    func update(records: [WorkerRecord], timeout: Duration) -> (added: [WorkerConnection], removed: [WorkerConnection]) {
        state.withLock { state in
            var byAddress: [String: WorkerRecord] = [:]
            for record in records { byAddress[record.address] = record }
            state.records = byAddress
            let removed = state.connections.filter { byAddress[$0.address] == nil }
            state.connections.removeAll { byAddress[$0.address] == nil }
            var added: [WorkerConnection] = []
            for address in byAddress.keys.sorted() where !state.connections.contains(where: { $0.address == address }) {
                guard let parsed = try? WorkerAddress(parsing: address), let connection = try? WorkerConnection(address: parsed, timeout: timeout) else {
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

/// Keeps a registry-fed ``WorkerPool`` in step with the registry: a gRPC connection per live
/// worker (started when it registers, shut down when it leaves or expires).
public struct RegistryPoolService: Service {
    let pool: WorkerPool
    let watcher: RegistryWatcher
    let timeout: Duration
    let logger: Logger

    /// Creates the service.
    public init(pool: WorkerPool, watcher: RegistryWatcher, timeout: Duration, logger: Logger) {
        self.pool = pool
        self.watcher = watcher
        self.timeout = timeout
        self.logger = logger
    }

    /// Runs the watcher and the connections until shutdown.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await watcher.run() }
            for await records in watcher.changes().cancelOnGracefulShutdown() {
                let (added, removed) = pool.update(records: records, timeout: timeout)
                for connection in removed {
                    logger.notice("worker left the registry", metadata: ["worker.address": "\(connection.address)"])
                    connection.shutdown()
                }
                for connection in added {
                    logger.notice("worker joined from the registry", metadata: ["worker.address": "\(connection.address)"])
                    group.addTask { try? await connection.run() }
                }
            }
            for connection in pool.connections { connection.shutdown() }
            group.cancelAll()
        }
    }
}

/// Probes every worker with `GetCapabilities` at a fixed interval: a worker that stops
/// answering is marked failed (routing skips it: the breaker is open) until a probe or a call
/// succeeds again (closed).
public struct WorkerHealthService: Service {
    let pool: WorkerPool
    let interval: Duration

    /// Creates the service.
    public init(pool: WorkerPool, interval: Duration) {
        self.pool = pool
        self.interval = interval
    }

    /// Probes until shutdown.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                _ = await pool.health()
                try? await Task.sleep(for: interval)
            }
        }
    }
}

extension RegistryConfiguration {
    /// The registry settings from `registry:`.
    public init(_ section: RegistrySection) {
        self.init(
            redisURL: section.redisURL, keyPrefix: section.keyPrefix, heartbeatInterval: .milliseconds(section.heartbeatMs),
            ttl: .milliseconds(section.ttlMs), rescanInterval: .milliseconds(section.rescanMs))
    }
}

extension WorkerPool {
    /// The pool for remote workers: from the registry when `registry.redis_url` is set, else
    /// the static `orchestrator.workers`; nil when neither is configured (the caller embeds a
    /// worker). The returned services run the connections (and the registry watcher).
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) for a bad worker address or Redis URL.
    public static func remote(_ configuration: DuplexConfiguration, logger: Logger) throws(DuplexError) -> (WorkerPool, [any Service])? {
        let timeout = Duration.milliseconds(configuration.orchestrator.workerTimeoutMs)
        if !configuration.registry.redisURL.isEmpty {
            let watcher: RegistryWatcher
            do {
                watcher = try RegistryWatcher(configuration: RegistryConfiguration(configuration.registry), logger: logger)
            } catch {
                throw DuplexError(.invalidConfiguration, error.message)
            }
            let pool = WorkerPool(routing: configuration.routing)
            return (pool, [
                RegistryPoolService(pool: pool, watcher: watcher, timeout: timeout, logger: logger),
                WorkerHealthService(pool: pool, interval: .milliseconds(configuration.orchestrator.healthCheckMs)),
            ])
        }
        guard !configuration.orchestrator.workers.isEmpty else { return nil }
        var connections: [WorkerConnection] = []
        for address in configuration.orchestrator.workers {
            do {
                connections.append(try WorkerConnection(address: WorkerAddress(parsing: address), timeout: timeout))
            } catch {
                throw DuplexError.wrap(error, as: .invalidConfiguration, "orchestrator.workers: cannot use '\(address)'.")
            }
        }
        let pool = WorkerPool(connections: connections)
        return (pool, connections.map { $0 as any Service } + [WorkerHealthService(pool: pool, interval: .milliseconds(configuration.orchestrator.healthCheckMs))])
    }
}
