import DuplexRedis
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real `redis-server` on a free loopback port, for integration tests.
///
/// A copy of `DuplexRedisTests/RedisServerProcess` (test targets cannot share files) plus `relaunch()` and `url`.
///
/// Runs without persistence (`--save "" --appendonly no`) in a temporary directory. `stop()`,
/// `restart()` and `pause()`/`resume()` drive failure scenarios; the same port is kept across
/// restarts. Never calls `Process.waitUntilExit` (it would block a cooperative thread): exit is
/// awaited by polling `isRunning` with `Task.sleep`.
public final class RedisServerProcess: Sendable {
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    static let executable = "/usr/bin/redis-server"

    public let port: Int
    let password: String?
    let extraArguments: [String]
    /// Whether the port speaks TLS only (``start(password:tls:aclUsers:)``).
    public let usesTLS: Bool
    private let directory: URL
    // Process is not Sendable; every access goes through the mutex.
    private let process = Mutex<Process?>(nil)

    private init(port: Int, password: String?, directory: URL, extraArguments: [String] = [], usesTLS: Bool = false) {
        self.port = port
        self.password = password
        self.directory = directory
        self.extraArguments = extraArguments
        self.usesTLS = usesTLS
    }

    deinit {
        // Safety net for a failed test: never leave a server behind.
        process.withLock { process in
            if let process, process.isRunning {
                kill(process.processIdentifier, SIGCONT)
                kill(process.processIdentifier, SIGKILL)
            }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts a server on a free port and waits until it accepts connections.
    /// - Parameters:
    ///   - tls: PEM files: the port then speaks TLS only (client certificates optional, checked
    ///     against `ca` when presented).
    ///   - aclUsers: ACL rules, one `--user` line each (e.g. `"duplex on >secret ~duplex:* &* +@all"`).
    public static func start(
        password: String? = nil, tls: (certificate: String, key: String, ca: String)? = nil, aclUsers: [String] = []
    ) async throws -> RedisServerProcess {
        var lastError: (any Error)?
        // Another process may grab the free port between probing and binding: retry on a new one.
        for _ in 0..<5 {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("duplex-registry-redis-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let port = try freeLoopbackPort()
            var extra = aclUsers.flatMap { ["--user"] + $0.split(separator: " ").map(String.init) }
            if let tls {
                extra += [
                    "--port", "0", "--tls-port", String(port), "--tls-cert-file", tls.certificate, "--tls-key-file", tls.key,
                    "--tls-ca-cert-file", tls.ca, "--tls-auth-clients", "optional",
                ]
            }
            let server = RedisServerProcess(port: port, password: password, directory: directory, extraArguments: extra, usesTLS: tls != nil)
            do {
                try await server.launch()
                return server
            } catch {
                lastError = error
                try? await server.stop()
            }
        }
        throw lastError ?? StartError(description: "redis-server did not start")
    }

    /// A configuration pointing at this server (with its password unless overridden).
    public func configuration(password: String?? = .none, database: Int = 0) -> RedisConfiguration {
        var configuration = RedisConfiguration(host: "127.0.0.1", port: port, database: database)
        configuration.password = password ?? self.password
        configuration.connectTimeout = .seconds(2)
        configuration.commandTimeout = .seconds(5)
        return configuration
    }

    var pid: Int32? {
        process.withLock { $0?.isRunning == true ? $0?.processIdentifier : nil }
    }

    /// SIGTERM, then waits (polling) until the process has exited and been reaped.
    public func stop() async throws {
        guard let pid else { return }
        kill(pid, SIGCONT)  // a stopped process would not act on SIGTERM
        kill(pid, SIGTERM)
        if try await !waitForExit(timeout: .seconds(10)) {
            kill(pid, SIGKILL)
            _ = try await waitForExit(timeout: .seconds(5))
        }
        process.withLock { $0 = nil }
    }

    /// Stops the server and starts a new one on the same port (with an empty dataset).
    public func restart() async throws {
        try await stop()
        try await relaunch()
    }

    /// Starts a new server on the same port after ``stop()`` (with an empty dataset).
    public func relaunch() async throws {
        var lastError: (any Error)?
        for _ in 0..<20 {
            do {
                try await launch()
                return
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw lastError ?? StartError(description: "redis-server did not relaunch")
    }

    /// The `redis://` URL of this server.
    public var url: String { "redis://127.0.0.1:\(port)" }

    /// SIGSTOP: the server keeps its sockets but answers nothing.
    public func pause() {
        if let pid { kill(pid, SIGSTOP) }
    }

    /// SIGCONT after ``pause()``.
    public func resume() {
        if let pid { kill(pid, SIGCONT) }
    }

    // MARK: Internals

    private func launch() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        var arguments = [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", directory.path, "--daemonize", "no",
        ]
        if let password { arguments += ["--requirepass", password] }
        process.arguments = arguments + extraArguments  // later options win
        let log = directory.appendingPathComponent("redis.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: log)
        process.standardOutput = logHandle
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        try Self.withTerminationSignalsUnblocked { try process.run() }
        self.process.withLock { $0 = process }

        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                self.process.withLock { $0 = nil }
                throw StartError(description: "redis-server exited on port \(port): \(output.suffix(500))")
            }
            if Self.acceptsConnections(port: port) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw StartError(description: "redis-server did not accept connections on port \(port) within 10 s")
    }

    /// The child inherits the spawning thread's signal mask, and Swift concurrency's worker
    /// threads block most signals: without this, redis-server would never see SIGTERM.
    private static func withTerminationSignalsUnblocked<T>(_ body: () throws -> T) rethrows -> T {
        var unblock = sigset_t()
        var previous = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGTERM)
        sigaddset(&unblock, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &unblock, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return try body()
    }

    private func waitForExit(timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if process.withLock({ $0?.isRunning != true }) { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    private static func loopbackAddress(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// Binds port 0 on loopback and returns the port the kernel chose.
    public static func freeLoopbackPort() throws -> Int {
        let (fd, port) = try boundLoopbackSocket()
        close(fd)
        return port
    }

    /// Runs `body` with a loopback port that refuses connections for its whole duration: the
    /// port is bound (so no other process can take it) but never listened on.
    public static func withRefusingPort<T>(_ body: (Int) async throws -> T) async throws -> T {
        let (fd, port) = try boundLoopbackSocket()
        defer { close(fd) }
        return try await body(port)
    }

    /// A TCP socket bound to a kernel-chosen loopback port (not listening), and the port.
    private static func boundLoopbackSocket() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StartError(description: "socket() failed: errno \(errno)") }
        var address = loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            close(fd)
            throw StartError(description: "bind() failed: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else {
            close(fd)
            throw StartError(description: "getsockname() failed: errno \(errno)")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// A loopback TCP connect: refused at once when nothing listens, so it never blocks for long.
    public static func acceptsConnections(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopbackAddress(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }
}
