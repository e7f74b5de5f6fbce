import DuplexCore
import DuplexProto
import Synchronization

/// The workers an orchestrator may route to (a static list, or the embedded worker).
/// Picks workers round-robin, skipping ones whose last call failed until they answer again.
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

    /// The connections.
    public let connections: [WorkerConnection]
    private let failed = Mutex<Set<String>>([])
    private let cursor = Atomic<Int>(0)

    /// Creates a pool.
    public init(connections: [WorkerConnection]) {
        self.connections = connections
    }

    /// The next worker to use, preferring ones not marked failed.
    public func pick() throws(DuplexError) -> WorkerConnection {
        guard !connections.isEmpty else {
            throw DuplexError(.workerUnavailable, "No workers are configured (orchestrator.workers).")
        }
        let down = failed.withLock { $0 }
        let start = cursor.add(1, ordering: .relaxed).newValue
        for offset in 0..<connections.count {
            let candidate = connections[(start + offset) % connections.count]
            if !down.contains(candidate.address) { return candidate }
        }
        // All look down: try one anyway (it may be back; the client reconnects by itself).
        return connections[start % connections.count]
    }

    /// Records that a call to the worker failed because it was unreachable.
    public func markFailed(_ connection: WorkerConnection) {
        _ = failed.withLock { $0.insert(connection.address) }
    }

    /// Records that the worker answered.
    public func markHealthy(_ connection: WorkerConnection) {
        _ = failed.withLock { $0.remove(connection.address) }
    }

    /// Asks every worker for its capabilities.
    public func health() async -> [Health] {
        await withTaskGroup(of: (Int, Health).self) { group in
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
