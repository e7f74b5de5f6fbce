import DuplexCore
import Foundation

/// A real `duplex worker` process on a free loopback port, for integration tests.
public final class WorkerProcess: @unchecked Sendable {
    // `process` is only touched by the test that owns this object.
    private let process: Process
    /// Its gRPC port.
    public let port: Int
    /// `grpc://127.0.0.1:PORT`.
    public var address: String { "grpc://127.0.0.1:\(port)" }

    /// The `duplex` executable built by `swift build` in this package.
    public static var executable: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/duplex").path
    }

    /// Starts a worker with the given adapters on `port` (a free one if nil). Voice packs are
    /// read from `voicepacks` (none by default); prepared models go to `cacheDirectory`.
    /// With `registry`, the worker registers in that Redis (`redis://…`) as `name`, with a
    /// `heartbeatMs` heartbeat and a `ttlMs` entry lifetime. `arguments` adds flags.
    public convenience init(
        adapters: String = "sine,espeak", defaultModel: String = "espeak-en-us", port: Int? = nil, voicepacks: String? = nil,
        cacheDirectory: String? = nil, registry: (url: String, name: String, heartbeatMs: Int, ttlMs: Int)? = nil,
        arguments extra: [String] = []
    ) throws {
        let port = try port ?? FreePort.find()
        var environment: [String: String] = [:]
        if let voicepacks { environment["DUPLEX_WORKER_VOICEPACKS_DIR"] = voicepacks }
        if let cacheDirectory { environment["DUPLEX_WORKER_CACHE_DIR"] = cacheDirectory }
        var arguments = ["worker", "--adapter", adapters, "--port", "\(port)", "--default-model", defaultModel, "--log-level", "warning"]
        if let registry {
            arguments += ["--redis", registry.url, "--name", registry.name]
            environment["DUPLEX_REGISTRY_HEARTBEAT_MS"] = "\(registry.heartbeatMs)"
            environment["DUPLEX_REGISTRY_TTL_MS"] = "\(registry.ttlMs)"
        }
        try self.init(port: port, arguments: arguments + extra, environment: environment)
    }

    /// Starts `duplex serve` on a free port: all-in-one (espeak default), or routing to
    /// `workers` (`grpc://…`).
    /// `environment` adds `DUPLEX_…` settings, `arguments` more flags.
    public static func serve(workers: [String] = [], environment: [String: String] = [:], arguments extra: [String] = []) throws -> WorkerProcess {
        let port = try FreePort.find()
        var arguments = ["serve", "--port", "\(port)", "--default-model", "espeak-en-us", "--log-level", "warning"] + extra
        if !workers.isEmpty { arguments += ["--workers", workers.joined(separator: ",")] }
        return try WorkerProcess(port: port, arguments: arguments, environment: environment)
    }

    private init(port: Int, arguments: [String], environment extra: [String: String] = [:]) throws {
        self.port = port
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["DUPLEX_WORKER_VOICEPACKS_DIR"] = "/nonexistent"
        environment.merge(extra) { _, new in new }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw DuplexError(.io, "\(Self.executable) is missing; run `swift build` before `swift test`.")
        }
        try process.run()
    }

    /// Its process id (for signals sent by another program).
    public var processIdentifier: Int32 { process.processIdentifier }

    /// Whether the process is running.
    public var isRunning: Bool { process.isRunning }

    /// Kills it with SIGKILL (a crash, like `kill -9`). Does not wait: the kernel closes its
    /// sockets as it dies; ``waitUntilGone()`` waits for the exit.
    public func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGCONT)
        Foundation.kill(process.processIdentifier, SIGKILL)
    }

    /// Waits (polling with `Task.sleep`, never blocking a thread) until the process exited.
    /// - Returns: false if it still runs after `timeout`.
    @discardableResult
    public func waitUntilGone(timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return !process.isRunning
    }

    /// Sends `signal` (e.g. SIGSTOP to freeze it, SIGCONT to let it go on).
    public func send(signal: Int32) {
        if process.isRunning { Foundation.kill(process.processIdentifier, signal) }
    }

    /// Sends SIGTERM without waiting.
    public func signalTerminate() {
        if process.isRunning { process.terminate() }
    }

    /// Waits for exit (up to 30 s) and returns the status (-1 if it is still running).
    public func waitForExit() async -> Int32 {
        await waitUntilGone(timeout: .seconds(30))
        return process.isRunning ? -1 : process.terminationStatus
    }

    /// Stops it with SIGTERM (graceful), without waiting; a process still running 10 s later
    /// is killed. Safe in a `defer` (it never blocks the calling thread).
    public func terminate() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGCONT)
        process.terminate()
        DispatchQueue.global().asyncAfter(deadline: .now() + 10) { [self] in kill() }
    }

    deinit { kill() }
}

/// Finds free loopback TCP ports.
public enum FreePort {
    /// A port that was free a moment ago.
    public static func find() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DuplexError(.io, "socket failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw DuplexError(.io, "bind failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
