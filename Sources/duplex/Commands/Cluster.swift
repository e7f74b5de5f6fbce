import ArgumentParser
import DuplexConfig
import DuplexOrchestrator
import DuplexRegistry
import Foundation

struct Cluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The scale-out cluster as the Redis registry sees it.", subcommands: [Status.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the registered workers, their models and load.")

        @Option(help: "The registry, redis://host:port (registry.redis_url).")
        var redis: String?

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let config = try options.load([("registry", "redis_url", redis)])
            guard !config.registry.redisURL.isEmpty else { throw ValidationError("Give --redis redis://host:port (or registry.redis_url).") }
            let workers = try await RegistrySnapshot.read(RegistryConfiguration(config.registry))
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            print("registry \(config.registry.redisURL)  prefix \(config.registry.keyPrefix)  \(workers.count) worker(s)")
            let header = [
                "NAME", "ADDRESS", "READY", "SESSIONS", "QUEUE", "BUSY", "NEXT 1ST AUDIO", "RTF p50", "1ST AUDIO p50", "RESIDENT", "MODELS",
                "LANGUAGES", "CAPABILITIES", "SEEN",
            ]
            let rows = workers.map { w in
                [
                    w.name, w.address, w.ready ? "yes" : "no", "\(w.metrics.activeSessions)", "\(w.metrics.queueDepth)",
                    String(format: "%.0f%%", w.metrics.busyFraction * 100), String(format: "%.0f ms", w.metrics.predictedFirstAudioMs),
                    String(format: "%.3f", w.metrics.rtfP50), String(format: "%.0f ms", w.metrics.firstAudioP50Ms),
                    w.residentModels.joined(separator: ","), "\(w.models.count)", w.languages.joined(separator: ","),
                    w.capabilities.joined(separator: ","), "\(max(0, now - w.updatedAt) / 1000) s ago",
                ]
            }
            let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
            for row in [header] + rows {
                print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
            }
        }
    }
}
