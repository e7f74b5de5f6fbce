import DuplexRedis
import Logging

/// A one-shot read of the registry (for `duplex cluster status`).
public enum RegistrySnapshot {
    /// Every live worker record, sorted by name.
    /// - Throws: ``RegistryError`` for a bad URL; `RedisError` when Redis cannot be reached.
    public static func read(_ configuration: RegistryConfiguration, logger: Logger = Logger(label: "duplex.registry")) async throws -> [WorkerRecord] {
        let client = try RedisClient(configuration: try configuration.validate(), logger: logger)
        do {
            let keys = try await client.scan(match: configuration.workerKeyPattern)
            let values = keys.isEmpty ? [] : try await client.mget(keys)
            await client.close()
            return zip(keys, values).compactMap { key, value -> WorkerRecord? in
                guard let value, var record = try? RegistryJSON.decode(WorkerRecord.self, from: value) else { return nil }
                if let name = configuration.workerName(forKey: key) { record.name = name }
                return record
            }.sorted { $0.name < $1.name }
        } catch {
            await client.close()
            throw error
        }
    }
}
