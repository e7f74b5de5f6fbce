import ArgumentParser
import DuplexConformance
import DuplexCore
import Foundation

/// `duplex conformance grpc://host:port`: checks any worker against the ABI contract.
struct Conformance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a TTS worker (any language) against the duplex.tts.v1 ABI contract; exit 0 only when every check passes.",
        discussion: "The checks and why they matter: docs/WORKERS.md.")

    @Argument(help: "The worker's address, grpc://host:port.")
    var address: String

    @Option(help: "The model to test (default: the worker's default).")
    var model: String?

    @Option(help: "PAUSE must take effect within this many milliseconds.")
    var pauseDeadlineMs = 50

    @Flag(help: "Report timing figures without failing on them (PAUSE latency, real-time pacing).")
    var timingAsFigures = false

    @Option(help: "Seconds to wait for the worker to report ready.")
    var readySeconds = 90

    func run() async throws {
        var settings = WorkerConformance.Settings()
        settings.model = model
        settings.pauseDeadline = .milliseconds(pauseDeadlineMs)
        settings.enforceTiming = !timingAsFigures
        settings.readyTimeout = .seconds(readySeconds)
        print("duplex conformance  worker=\(address) model=\(model ?? "(default)")")
        let settingsValue = settings
        let report = try await RemoteWorker.with(address, timeout: .seconds(30)) { connection in
            await WorkerConformance(worker: connection, settings: settingsValue).run()
        }
        print(report.table)
        if !report.passed { throw ExitCode(1) }
    }
}
