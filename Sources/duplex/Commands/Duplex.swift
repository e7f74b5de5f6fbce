import ArgumentParser
import DuplexConfig
import DuplexCore
import Foundation

@main
struct Duplex: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duplex",
        abstract: "Realtime speech↔speech engine: orchestrator, TTS workers and tools.",
        subcommands: [
            Serve.self, Worker.self, Say.self, Talk.self, Bench.self, Models.self, Cluster.self, Conformance.self, Doctor.self, Security.self,
        ])
}

/// Options shared by commands that read the configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: configs/duplex.yaml if present).")
    var config: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Option(name: .long, help: "Log format: auto, json or text.")
    var logFormat: String?

    /// Loads the configuration with these flags and the given command flags applied last
    /// (flags that were not given are nil and skipped); `appending` adds repeatable flags'
    /// values to a list key (e.g. `--api-key` to `security.api_keys`).
    func load(
        _ flags: [(section: String, key: String, value: String?)] = [],
        appending lists: [(section: String, key: String, values: [String])] = []
    ) throws -> DuplexConfiguration {
        let all = flags + [("logging", "level", logLevel), ("logging", "format", logFormat)]
        let overrides = all.compactMap { flag in flag.value.map { (flag.section, flag.key, $0) } }
        do {
            var config = try ConfigurationLoader.load(file: config, environment: ProcessInfo.processInfo.environment, overrides: overrides)
            for list in lists where !list.values.isEmpty {
                guard list.section == "security", list.key == "api_keys" else { continue }
                let joined = (config.security.apiKeys + list.values).joined(separator: ",")
                try config.set(section: list.section, key: list.key, value: joined)
            }
            return config
        } catch {
            throw ValidationError(error.message)
        }
    }
}
