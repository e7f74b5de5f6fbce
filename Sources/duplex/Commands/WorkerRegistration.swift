import DuplexConfig
import DuplexCore
import DuplexOrchestrator
import DuplexRegistry
import DuplexWorker
import Foundation
import Logging

/// A worker's entry in the Redis registry, refreshed by a heartbeat (docs/ROUTING.md).
enum WorkerRegistration {
    /// The registrar service for `duplex worker --redis …`.
    static func registrar(_ config: DuplexConfiguration, service: TTSWorkerService, logger: Logger) throws -> WorkerRegistrar {
        let host = config.worker.host == "0.0.0.0" ? ProcessInfo.processInfo.hostName : config.worker.host
        let address = config.registry.advertiseAddress.isEmpty ? "grpc://\(host):\(config.worker.port)" : config.registry.advertiseAddress
        let started = Int64(Date().timeIntervalSince1970 * 1000)
        let gpu = config.worker.executionProvider == "cpu" ? nil : config.worker.executionProvider
        // Several workers share one registry: the default name becomes unique by address.
        let name = config.worker.name == "worker" ? "worker-\(host)-\(config.worker.port)" : config.worker.name
        logger.notice("registering in Redis", metadata: ["worker.name": "\(name)", "worker.address": "\(address)"])
        do {
            return try WorkerRegistrar(configuration: RegistryConfiguration(config.registry), logger: logger) {
                let snapshot = await service.snapshot()
                return WorkerRecord(
                    name: name, address: address, capabilities: snapshot.capabilities, languages: snapshot.languages,
                    models: snapshot.models, residentModels: snapshot.residentModels,
                    hardware: .init(cpuCores: ProcessInfo.processInfo.activeProcessorCount, gpu: gpu),
                    metrics: .init(
                        activeSessions: Int(snapshot.metrics["active_sessions"] ?? 0), queueDepth: Int(snapshot.metrics["queue_depth"] ?? 0),
                        rtfP50: snapshot.metrics["rtf_p50"] ?? 0, firstAudioP50Ms: snapshot.metrics["first_audio_p50_ms"] ?? 0,
                        predictedFirstAudioMs: snapshot.metrics["predicted_first_audio_ms"] ?? 0,
                        predictedWaitMs: snapshot.metrics["predicted_wait_ms"] ?? 0,
                        earliestSlackMs: snapshot.metrics["earliest_slack_ms"], busyFraction: snapshot.metrics["busy_fraction"] ?? 0),
                    version: "1", startedAt: started, ready: snapshot.ready)
            }
        } catch {
            throw DuplexError(.invalidConfiguration, error.message, cause: error)
        }
    }
}
