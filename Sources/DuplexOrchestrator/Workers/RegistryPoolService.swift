import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexRegistry
import Logging
import ServiceLifecycle

/// Keeps a registry-fed ``WorkerPool`` in step with the registry: a gRPC connection per live
/// worker (started when it registers, shut down when it leaves or expires).
public struct RegistryPoolService: Service {
    let pool: WorkerPool
    let watcher: RegistryWatcher
    let timeout: Duration
    let link: WorkerLink
    let logger: Logger

    /// Creates the service; `link` is how new workers are reached (TLS, token).
    public init(pool: WorkerPool, watcher: RegistryWatcher, timeout: Duration, link: WorkerLink = .plaintext, logger: Logger) {
        self.pool = pool
        self.watcher = watcher
        self.timeout = timeout
        self.link = link
        self.logger = logger
    }

    /// Runs the watcher and the connections until shutdown.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await watcher.run() }
            for await records in watcher.changes().cancelOnGracefulShutdown() {
                let (added, removed) = pool.update(records: records, timeout: timeout, link: link)
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

extension RegistryConfiguration {
    /// The registry settings from `registry:`.
    public init(_ section: RegistrySection) {
        self.init(
            redisURL: section.redisURL, keyPrefix: section.keyPrefix, heartbeatInterval: .milliseconds(section.heartbeatMs),
            ttl: .milliseconds(section.ttlMs), rescanInterval: .milliseconds(section.rescanMs))
    }
}
