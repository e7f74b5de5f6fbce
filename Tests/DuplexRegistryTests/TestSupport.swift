import DuplexRegistry
import Synchronization

struct TestTimeoutError: Error, CustomStringConvertible {
    var seconds: Double
    var description: String { "The test did not finish within \(seconds) s" }
}

struct ConditionNotMet: Error, CustomStringConvertible {
    var description: String
}

/// Runs `body`, failing with ``TestTimeoutError`` if it takes longer than `seconds`.
@discardableResult
func withTimeout<T: Sendable>(
    seconds: Double = 60,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TestTimeoutError(seconds: seconds)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// Polls `condition` every 50 ms until it holds; throws ``ConditionNotMet`` after `seconds`.
func waitUntil(
    _ what: String,
    seconds: Double = 15,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while true {
        if (try? await condition()) == true { return }
        if ContinuousClock.now >= deadline { throw ConditionNotMet(description: "Timed out after \(seconds) s waiting for: \(what)") }
        try await Task.sleep(for: .milliseconds(50))
    }
}

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
