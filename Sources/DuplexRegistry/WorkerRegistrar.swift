import DuplexRedis
import Logging
import ServiceLifecycle

/// Keeps a worker's ``WorkerRecord`` in the registry while the worker runs (worker side).
///
/// ``run()`` writes the record under `<prefix>:worker:<name>` with a time to live of
/// ``RegistryConfiguration/ttl`` and publishes `up`; every ``RegistryConfiguration/heartbeatInterval``
/// it takes a fresh snapshot and writes it again, publishing `update` only when the resident
/// models, readiness or capabilities changed (metrics alone travel silently with the record).
/// On graceful shutdown (or cancellation) it deletes the key and publishes `down`.
///
/// Redis being unreachable never stops the worker: the failure is logged and the next heartbeat
/// retries. A heartbeat that finds the key gone (Redis restarted and lost its data, or the key
/// expired during an outage) writes it again and publishes `up`.
///
/// ```swift
/// let registrar = try WorkerRegistrar(configuration: config, logger: logger) {
///     await modelManager.workerRecord()
/// }
/// let group = ServiceGroup(services: [grpcServer, registrar], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// // after loading a model: registrar.refreshNow()
/// ```
///
/// Run it once: ``run()`` closes its Redis connections when it returns.
public final class WorkerRegistrar: Service, Sendable {
    /// The registry settings.
    public let configuration: RegistryConfiguration
    private let client: RedisClient
    private let snapshot: @Sendable () async -> WorkerRecord
    private let logger: Logger
    /// Heartbeat and refresh requests; newest-only so bursts of `refreshNow()` coalesce.
    private let ticks: AsyncStream<Void>
    private let tickContinuation: AsyncStream<Void>.Continuation

    /// Creates a registrar; nothing is written until ``run()``.
    /// - Parameters:
    ///   - configuration: Registry settings; validated here.
    ///   - logger: Receives registration and Redis failures.
    ///   - snapshot: Returns the worker's current record; called at every heartbeat and refresh.
    ///     ``WorkerRecord/updatedAt`` is overwritten with the write time.
    /// - Throws: ``RegistryError/Code/invalidConfiguration`` for out-of-range settings or a bad URL.
    public init(
        configuration: RegistryConfiguration,
        logger: Logger = Logger(label: "duplex.registry.registrar"),
        snapshot: @escaping @Sendable () async -> WorkerRecord
    ) throws(RegistryError) {
        let redis = try configuration.validate()
        self.configuration = configuration
        do {
            self.client = try RedisClient(configuration: redis, logger: logger)
        } catch {
            throw RegistryError(.invalidConfiguration, "registry.redis_url: \(error.message)", cause: error)
        }
        self.snapshot = snapshot
        self.logger = logger
        (ticks, tickContinuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Writes a fresh snapshot now instead of at the next heartbeat, e.g. after a model was loaded.
    /// Returns at once; the write happens on the ``run()`` task.
    public func refreshNow() {
        tickContinuation.yield()
    }

    /// Registers, heartbeats until graceful shutdown or cancellation, then deregisters.
    ///
    /// Never throws for Redis problems; those are logged and retried.
    public func run() async throws {
        let registeredName = await cancelWhenGracefulShutdown {
            await self.heartbeat()
        }
        await deregister(name: registeredName)
        tickContinuation.finish()
        await client.close()
    }

    // MARK: Heartbeat

    /// What the last successful write announced; owned by the ``run()`` task.
    private struct HeartbeatState: Sendable {
        /// The name of the key written last, deleted on shutdown.
        var registeredName: String?
        /// Whether `up` was published since start.
        var upAnnounced = false
        /// The fields whose change triggers `update`, as last announced.
        var announced: Announced?
        /// Whether the previous attempt failed (to log recovery once).
        var failing = false
    }

    private struct Announced: Hashable, Sendable {
        var residentModels: Set<String>
        var ready: Bool
        var capabilities: Set<String>

        init(_ record: WorkerRecord) {
            residentModels = Set(record.residentModels)
            ready = record.ready
            capabilities = Set(record.capabilities)
        }
    }

    /// Beats until cancelled; returns the name last registered (to deregister).
    private func heartbeat() async -> String? {
        var state = HeartbeatState()
        tickContinuation.yield()  // register at once
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while true {
                    do {
                        try await Task.sleep(for: self.configuration.heartbeatInterval)
                    } catch {
                        return
                    }
                    self.tickContinuation.yield()
                }
            }
            for await _ in ticks {
                if Task.isCancelled { break }
                await beat(state: &state)
            }
            group.cancelAll()
        }
        return state.registeredName
    }

    private func beat(state: inout HeartbeatState) async {
        var record = await snapshot()
        record.updatedAt = RegistryJSON.nowMilliseconds()
        let key = configuration.workerKey(record.name)
        let metadata: Logger.Metadata = ["registry.worker": "\(record.name)", "registry.key": "\(key)"]
        do {
            let json = try RegistryJSON.encode(record)
            if let previous = state.registeredName, previous != record.name {
                // The worker was renamed: do not leave the old record behind until it expires.
                try await client.del([configuration.workerKey(previous)])
                state.upAnnounced = false
            }
            // XX first: a missing key means Redis lost it (restart, expiry during an outage), which
            // must be announced as `up` so watchers re-read it without waiting for a rescan.
            let existed = try await client.set(key, json, expireMilliseconds: configuration.ttlMilliseconds, condition: .ifExists)
            if !existed {
                try await client.set(key, json, expireMilliseconds: configuration.ttlMilliseconds)
            }
            state.registeredName = record.name
            let announced = Announced(record)
            let kind: RegistryEvent.Kind? =
                if !existed || !state.upAnnounced { .up } else if state.announced != announced { .update } else { nil }
            if let kind {
                try await publish(RegistryEvent(kind, name: record.name))
                state.upAnnounced = true
                state.announced = announced
                logger.debug("Published registry event", metadata: metadata.merging(["registry.event": "\(kind.rawValue)"]) { $1 })
            }
            if state.failing {
                logger.info("Registry heartbeat recovered", metadata: metadata)
                state.failing = false
            }
        } catch {
            // Keep serving: the client reconnects by itself and the next heartbeat retries.
            logger.log(
                level: state.failing ? .debug : .warning,
                "Registry heartbeat failed; retrying at the next heartbeat",
                metadata: metadata.merging(["error": "\(error)"]) { $1 })
            state.failing = true
        }
    }

    private func publish(_ event: RegistryEvent) async throws {
        try await client.publish(configuration.channel, try RegistryJSON.encode(event))
    }

    private func deregister(name: String?) async {
        guard let name else { return }
        let metadata: Logger.Metadata = ["registry.worker": "\(name)"]
        do {
            try await client.del([configuration.workerKey(name)])
            try await publish(RegistryEvent(.down, name: name))
            logger.info("Deregistered worker", metadata: metadata)
        } catch {
            logger.warning(
                "Could not deregister worker; its record expires after the TTL",
                metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
    }
}
