import DuplexCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A worker written with the Python SDK (`sdk/python`), run as a real process from the
/// repository's sources with the project's venv, on a free port.
public final class PythonWorkerProcess: @unchecked Sendable {
    // `process` is only touched by the test that owns this object.
    private let process: Process
    /// Its gRPC port.
    public let port: Int
    /// `grpc://127.0.0.1:PORT`.
    public var address: String { "grpc://127.0.0.1:\(port)" }

    private init(process: Process, port: Int) {
        self.process = process
        self.port = port
    }

    /// The venv's Python.
    public static var python: String { "\(TestAssets.deps)/venv/bin/python" }

    /// `sdk/python`, put on `PYTHONPATH` so the repository's SDK runs (not an installed copy).
    public static var sdk: String { "\(TestAssets.repositoryRoot)/sdk/python" }

    /// Starts `python -m module arguments… --port 0` and waits (polling, without blocking a
    /// concurrency thread) for its `LISTENING <port>` line.
    public static func start(module: String, _ arguments: [String], environment extra: [String: String] = [:]) async throws -> PythonWorkerProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-m", module, "--port", "0"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = sdk
        environment["PYTHONUNBUFFERED"] = "1"
        environment.merge(extra) { _, new in new }
        process.environment = environment
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        let fd = stdout.fileHandleForReading.fileDescriptor
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var output: [UInt8] = []
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            var buffer = [UInt8](repeating: 0, count: 256)
            let count = read(fd, &buffer, buffer.count)
            if count > 0 {
                output += buffer[..<count]
                let text = String(decoding: output, as: UTF8.self)
                if text.contains("\n"), let line = text.split(separator: "\n").first(where: { $0.hasPrefix("LISTENING ") }),
                    let port = Int(line.dropFirst("LISTENING ".count).trimmingCharacters(in: .whitespaces))
                {
                    return PythonWorkerProcess(process: process, port: port)
                }
            } else if count == 0 || !process.isRunning {
                throw DuplexError(.io, "python -m \(module) exited before listening: \(String(decoding: output, as: UTF8.self))")
            } else if ContinuousClock.now > deadline {
                process.terminate()
                throw DuplexError(.io, "python -m \(module) printed no LISTENING line within 120 s")
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// The reference Piper worker (`duplex_worker.examples.piper`) on the joe voice.
    public static func piper(modelID: String, redis: (url: String, name: String)? = nil) async throws -> PythonWorkerProcess {
        let voice = try FileManager.default.contentsOfDirectory(atPath: TestAssets.piperJoe).first { $0.hasSuffix(".onnx") }
            .map { "\(TestAssets.piperJoe)/\($0)" }
        guard let voice else { throw DuplexError(.io, "no .onnx voice in \(TestAssets.piperJoe); run scripts/setup.sh") }
        var arguments = ["--voice", voice, "--model-id", modelID]
        if let redis { arguments += ["--redis", redis.url, "--name", redis.name, "--heartbeat-ms", "500", "--registry-ttl-ms", "5000"] }
        return try await start(module: "duplex_worker.examples.piper", arguments)
    }

    /// Whether it runs.
    public var isRunning: Bool { process.isRunning }

    /// SIGKILL (a crash), without waiting.
    public func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGCONT)
        Foundation.kill(process.processIdentifier, SIGKILL)
    }

    /// SIGTERM (a graceful drain), without waiting.
    public func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// Waits (polling) for the exit; returns the status, -1 if still running after `timeout`.
    public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return process.isRunning ? -1 : process.terminationStatus
    }

    deinit { kill() }
}
