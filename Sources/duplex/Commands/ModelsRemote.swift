import ArgumentParser
import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexOrchestrator
import DuplexProto
import Foundation

/// Runs one call against a worker's gRPC ABI.
enum RemoteWorker {
    static func with<T: Sendable>(
        _ address: String, timeout: Duration = .seconds(120),
        _ body: @escaping @Sendable (WorkerConnection) async throws -> T
    ) async throws -> T {
        // The link (TLS, the shared worker token) as `duplex serve` would use it: from
        // configs/duplex.yaml and DUPLEX_* variables.
        let link = (try? ConfigurationLoader.load(file: nil, environment: ProcessInfo.processInfo.environment, overrides: []))
            .map(WorkerLink.init) ?? .plaintext
        let connection = try WorkerConnection(address: WorkerAddress(parsing: address), timeout: timeout, link: link)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await connection.run()
                return nil
            }
            defer { connection.shutdown() }
            let result = try await body(connection)
            connection.shutdown()
            return result
        }
    }
}

extension Models {
    struct Load: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load (and warm up) a model on a running worker.")
        @Argument(help: "Model id.") var model: String
        @Option(help: "Worker address.") var worker = "grpc://127.0.0.1:7001"

        func run() async throws {
            let model = self.model
            let response = try await RemoteWorker.with(worker) { connection in
                var request = Duplex_Tts_V1_LoadModelRequest()
                request.modelID = model
                request.preloadOnly = true
                return try await connection.call { [request] client, options in try await client.loadModel(request, options: options) }
            }
            print("\(model): \(response.message) (call took \(response.loadDurationMs) ms)")
        }
    }

    struct Unload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unload a model from a running worker (refused while in use).")
        @Argument(help: "Model id.") var model: String
        @Option(help: "Worker address.") var worker = "grpc://127.0.0.1:7001"

        func run() async throws {
            let model = self.model
            let response = try await RemoteWorker.with(worker) { connection in
                var request = Duplex_Tts_V1_UnloadModelRequest()
                request.modelID = model
                return try await connection.call { [request] client, options in try await client.unloadModel(request, options: options) }
            }
            print("\(model): \(response.message)")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a running worker's models, residency and memory.")
        @Option(help: "Worker address.") var worker = "grpc://127.0.0.1:7001"

        func run() async throws {
            let (models, capabilities) = try await RemoteWorker.with(worker) { connection in
                let models = try await connection.call { client, options in
                    try await client.listModels(Duplex_Tts_V1_ListModelsRequest(), options: options)
                }
                let capabilities = try await connection.call { client, options in
                    try await client.getCapabilities(Duplex_Tts_V1_GetCapabilitiesRequest(), options: options)
                }
                return (models, capabilities)
            }
            print("worker \(capabilities.workerName) ready=\(capabilities.ready)")
            print("MODEL".padding(toLength: 24, withPad: " ", startingAt: 0) + "FAMILY    LOADED  MEMORY     IDLE")
            for model in models.models {
                let memory = model.metadata["memory_bytes"].flatMap(Int.init).map { String(format: "%.0f MB", Double($0) / 1_048_576) } ?? "-"
                let idle = model.metadata["idle_ms"].map { "\($0) ms" } ?? "-"
                print(
                    model.modelID.padding(toLength: 24, withPad: " ", startingAt: 0)
                        + model.family.padding(toLength: 10, withPad: " ", startingAt: 0)
                        + (model.isLoaded ? "yes" : "no").padding(toLength: 8, withPad: " ", startingAt: 0)
                        + memory.padding(toLength: 11, withPad: " ", startingAt: 0) + idle)
            }
            for (key, value) in capabilities.metrics.sorted(by: { $0.key < $1.key }) { print("  \(key) = \(value)") }
        }
    }
}
