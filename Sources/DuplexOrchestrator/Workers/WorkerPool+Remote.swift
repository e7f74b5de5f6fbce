import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexRegistry
import Logging
import ServiceLifecycle

extension WorkerPool {
    /// The pool for remote workers: from the registry when `registry.redis_url` is set, else
    /// the static `orchestrator.workers`; nil when neither is configured (the caller embeds a
    /// worker). The returned services run the connections (and the registry watcher).
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) for a bad worker address or Redis URL.
    public static func remote(_ configuration: DuplexConfiguration, logger: Logger) throws(DuplexError) -> (WorkerPool, [any Service])? {
        let timeout = Duration.milliseconds(configuration.orchestrator.workerTimeoutMs)
        let link = WorkerLink(configuration)
        if !configuration.registry.redisURL.isEmpty {
            let watcher: RegistryWatcher
            do {
                watcher = try RegistryWatcher(configuration: RegistryConfiguration(configuration.registry), logger: logger)
            } catch {
                throw DuplexError(.invalidConfiguration, error.message, cause: error)
            }
            let pool = WorkerPool(routing: configuration.routing)
            return (pool, [
                RegistryPoolService(pool: pool, watcher: watcher, timeout: timeout, link: link, logger: logger),
                WorkerHealthService(pool: pool, interval: .milliseconds(configuration.orchestrator.healthCheckMs)),
            ])
        }
        guard !configuration.orchestrator.workers.isEmpty else { return nil }
        var connections: [WorkerConnection] = []
        for address in configuration.orchestrator.workers {
            do {
                connections.append(try WorkerConnection(address: WorkerAddress(parsing: address), timeout: timeout, link: link))
            } catch {
                throw DuplexError.wrap(error, as: .invalidConfiguration, "orchestrator.workers: cannot use '\(address)'.")
            }
        }
        let pool = WorkerPool(connections: connections)
        return (pool, connections.map { $0 as any Service } + [WorkerHealthService(pool: pool, interval: .milliseconds(configuration.orchestrator.healthCheckMs))])
    }
}
