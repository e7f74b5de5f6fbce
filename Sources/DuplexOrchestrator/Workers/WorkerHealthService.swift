import DuplexEngine
import ServiceLifecycle

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
