import DuplexRegistry
import Synchronization

/// A worker record the test can change while a registrar snapshots it.
final class RecordBox: Sendable {
    private let record: Mutex<WorkerRecord>

    init(_ record: WorkerRecord) { self.record = Mutex(record) }

    var value: WorkerRecord { record.withLock { $0 } }

    func update(_ change: (inout WorkerRecord) -> Void) {
        record.withLock { change(&$0) }
    }
}

/// A ready test worker.
func makeWorker(
    _ name: String,
    capabilities: [String] = ["cpu_ok", "streaming"],
    languages: [String] = ["en-us"],
    models: [String] = ["kokoro", "piper"],
    resident: [String] = [],
    queueDepth: Int = 0,
    activeSessions: Int = 0,
    firstAudioMs: Double = 0,
    ready: Bool = true
) -> WorkerRecord {
    WorkerRecord(
        name: name,
        address: "grpc://127.0.0.1:7001",
        capabilities: capabilities,
        languages: languages,
        models: models,
        residentModels: resident,
        hardware: .init(cpuCores: 4),
        metrics: .init(activeSessions: activeSessions, queueDepth: queueDepth, rtfP50: 0.3, firstAudioP50Ms: firstAudioMs),
        version: "test",
        startedAt: 1,
        ready: ready)
}
