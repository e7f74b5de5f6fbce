import DuplexRedis
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps the set of live workers from the registry (orchestrator side).
///
/// ``run()`` subscribes to the registry channel and, on every (re)subscribe, reads all records
/// (`SCAN <prefix>:worker:*` + `MGET`). An `up`/`update` event re-reads that worker's key, a `down`
/// event removes the worker. A full rescan every ``RegistryConfiguration/rescanInterval`` catches
/// lost events and the keys of crashed workers that expired.
///
/// While Redis is unreachable the last known workers are kept, so routing continues; the
/// subscriber reconnects by itself and the resubscribe triggers a rescan.
///
/// ```swift
/// let watcher = try RegistryWatcher(configuration: config, logger: logger)
/// // run it in the orchestrator's ServiceGroup, then:
/// let decision = router.choose(from: watcher.workers, for: request)
/// for await workers in watcher.changes() { print(workers.map(\.name)) }
/// ```
///
/// Run it once: ``run()`` closes its Redis connections and finishes all ``changes()`` streams
/// when it returns.
public final class RegistryWatcher: Service, Sendable {
    private struct State {
        var workers: [String: WorkerRecord] = [:]
        var observers: [Int: AsyncStream<[WorkerRecord]>.Continuation] = [:]
        var nextObserverID = 0
        var isFinished = false
        /// Work for the ``run()`` task, coalesced: a rescan supersedes single reads.
        var rescanPending = false
        var pendingEvents: [String: RegistryEvent.Kind] = [:]
    }

    /// The registry settings.
    public let configuration: RegistryConfiguration
    private let client: RedisClient
    private let subscriber: RedisSubscriber
    private let logger: Logger
    private let state = Mutex(State())
    /// Wakes the processing loop; the pending work itself is in `state`.
    private let wakeups: AsyncStream<Void>
    private let wakeupContinuation: AsyncStream<Void>.Continuation

    /// Creates a watcher; nothing is read until ``run()``.
    /// - Throws: ``RegistryError/Code/invalidConfiguration`` for out-of-range settings or a bad URL.
    public init(
        configuration: RegistryConfiguration,
        logger: Logger = Logger(label: "duplex.registry.watcher")
    ) throws(RegistryError) {
        let redis = try configuration.validate()
        self.configuration = configuration
        do {
            self.client = try RedisClient(configuration: redis, logger: logger)
            self.subscriber = try RedisSubscriber(configuration: redis, logger: logger)
        } catch {
            throw RegistryError(.invalidConfiguration, "registry.redis_url: \(error.message)", cause: error)
        }
        self.logger = logger
        (wakeups, wakeupContinuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// The live workers, sorted by name.
    public var workers: [WorkerRecord] {
        state.withLock { Self.sorted($0.workers) }
    }

    /// The live workers after each change, starting with the current set.
    ///
    /// Newest-only buffering: a slow consumer skips intermediate sets but always gets the latest.
    /// The stream finishes when ``run()`` returns.
    public func changes() -> AsyncStream<[WorkerRecord]> {
        let (stream, continuation) = AsyncStream<[WorkerRecord]>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id: Int? = state.withLock { state in
            guard !state.isFinished else { return nil }
            let id = state.nextObserverID
            state.nextObserverID += 1
            state.observers[id] = continuation
            continuation.yield(Self.sorted(state.workers))
            return id
        }
        if let id {
            continuation.onTermination = { [weak self] _ in
                self?.state.withLock { _ = $0.observers.removeValue(forKey: id) }
            }
        } else {
            continuation.finish()
        }
        return stream
    }

    /// Watches the registry until graceful shutdown or cancellation.
    ///
    /// Never throws for Redis problems; those are logged and retried.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.watch()
        }
        let observers = state.withLock { state in
            state.isFinished = true
            defer { state.observers.removeAll() }
            return Array(state.observers.values)
        }
        for observer in observers { observer.finish() }
        wakeupContinuation.finish()
        await subscriber.close()
        await client.close()
    }

    // MARK: Watching

    private func watch() async {
        requestRescan()  // even if subscribing fails, try to read what is there
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.receiveEvents() }
            group.addTask {
                while true {
                    do {
                        try await Task.sleep(for: self.configuration.rescanInterval)
                    } catch {
                        return
                    }
                    self.requestRescan()
                }
            }
            // One task reads from Redis and applies the results, so an older read never
            // overwrites a newer one.
            for await _ in wakeups {
                if Task.isCancelled { break }
                await processPendingWork()
            }
            group.cancelAll()
        }
    }

    private func receiveEvents() async {
        let subscription = subscriber.subscribe(channels: [configuration.channel]) { [weak self] in
            // (Re)subscribed: events published meanwhile are lost, so read everything again.
            self?.requestRescan()
        }
        do {
            for try await message in subscription {
                do {
                    let event = try RegistryJSON.decode(RegistryEvent.self, from: message.message)
                    state.withLock { $0.pendingEvents[event.name] = event.kind }
                    wakeupContinuation.yield()
                } catch {
                    logger.warning("Ignoring an invalid registry event", metadata: ["error": "\(error)"])
                }
            }
        } catch {
            // Only errors retrying cannot fix end the subscription (e.g. a rejected password).
            logger.error(
                "Registry subscription failed; falling back to periodic rescans",
                metadata: ["error": "\(error)", "registry.channel": "\(configuration.channel)"])
        }
    }

    private func requestRescan() {
        state.withLock { $0.rescanPending = true }
        wakeupContinuation.yield()
    }

    private func processPendingWork() async {
        let (rescan, events) = state.withLock { state in
            defer {
                state.rescanPending = false
                state.pendingEvents.removeAll()
            }
            return (state.rescanPending, state.pendingEvents)
        }
        if rescan {
            await self.rescan()
            // A rescan read every key after these events were published: nothing left to do.
            return
        }
        guard !events.isEmpty else { return }
        let removed = events.filter { $0.value == .down }.map(\.key)
        let names = events.filter { $0.value != .down }.map(\.key).sorted()
        var updates: [String: WorkerRecord?] = [:]
        for name in removed { updates[name] = .some(nil) }
        if !names.isEmpty {
            do {
                let values = try await client.mget(names.map(configuration.workerKey))
                for (name, value) in zip(names, values) {
                    updates[name] = .some(value.flatMap { decodeRecord($0, name: name) })
                }
            } catch {
                logger.warning(
                    "Could not read updated worker records; rescanning",
                    metadata: ["error": "\(error)", "registry.workers": "\(names)"])
                requestRescan()
            }
        }
        apply { workers in
            for (name, record) in updates {
                workers[name] = record
            }
        }
    }

    private func rescan() async {
        do {
            let keys = try await client.scan(match: configuration.workerKeyPattern)
            let values = try await client.mget(keys)
            var found: [String: WorkerRecord] = [:]
            for (key, value) in zip(keys, values) {
                guard let value, let name = configuration.workerName(forKey: key) else { continue }
                if let record = decodeRecord(value, name: name) { found[name] = record }
            }
            apply { $0 = found }
        } catch {
            // Keep the last known workers: routing goes on while Redis is away.
            logger.warning("Registry rescan failed; keeping the last known workers", metadata: ["error": "\(error)"])
        }
    }

    private func decodeRecord(_ json: String, name: String) -> WorkerRecord? {
        do {
            var record = try RegistryJSON.decode(WorkerRecord.self, from: json)
            record.name = name  // the key is authoritative
            return record
        } catch {
            logger.warning("Ignoring an invalid worker record", metadata: ["registry.worker": "\(name)", "error": "\(error)"])
            return nil
        }
    }

    /// Changes the worker set and notifies observers if it really changed.
    private func apply(_ change: (inout [String: WorkerRecord]) -> Void) {
        state.withLock { state in
            var workers = state.workers
            change(&workers)
            guard workers != state.workers else { return }
            state.workers = workers
            let snapshot = Self.sorted(workers)
            for observer in state.observers.values { observer.yield(snapshot) }
        }
    }

    private static func sorted(_ workers: [String: WorkerRecord]) -> [WorkerRecord] {
        workers.values.sorted { $0.name < $1.name }
    }
}
