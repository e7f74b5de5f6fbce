import AsyncHTTPClient
import DuplexLLM
import Foundation
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `tools/openai_compatible_server.py` running as a real process on a free loopback port.
public final class OpenAICompatibleServer: @unchecked Sendable {
    // `process` is only touched by the test that owns this object (start, stop, deinit).
    private let process: Process
    /// The port it listens on.
    public let port: Int
    /// `http://127.0.0.1:PORT/v1`.
    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    /// What the server recorded of one chat-completions request body.
    public struct RecordedRequest: Decodable, Sendable {
        public var model: String
        public var stream: Bool?
        public var messages: [ChatMessage]
        public var temperature: Double?
        public var max_tokens: Int?
    }

    /// The server's counters.
    public struct Stats: Decodable, Sendable, Equatable {
        public var requests: Int
        public var completed: Int
        public var disconnects: Int

        /// Creates counters (to compare with).
        public init(requests: Int, completed: Int, disconnects: Int) {
            self.requests = requests
            self.completed = completed
            self.disconnects = disconnects
        }
    }

    /// The server script, found by walking up from this file (with symlinks as written and
    /// resolved, so a package that links the test sources in also finds it).
    public static func scriptPath(filePath: String = #filePath) throws -> String {
        let file = URL(fileURLWithPath: filePath)
        for start in [file, file.resolvingSymlinksInPath()] {
            var directory = start.deletingLastPathComponent()
            while directory.path != "/" {
                let candidate = directory.appendingPathComponent("tools/openai_compatible_server.py")
                if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
                directory = directory.deletingLastPathComponent()
            }
        }
        throw TestServerError("tools/openai_compatible_server.py not found above \(filePath)")
    }

    private init(process: Process, port: Int) {
        self.process = process
        self.port = port
    }

    /// Starts the server with extra `arguments` (e.g. `["--delay-ms", "100"]`) and waits (polling,
    /// without blocking a concurrency thread) for its `LISTENING <port>` line.
    public static func start(_ arguments: [String] = []) async throws -> OpenAICompatibleServer {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", try scriptPath(), "--port", "0"] + arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        try process.run()

        let fd = stdout.fileHandleForReading.fileDescriptor
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var output: [UInt8] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            var buffer = [UInt8](repeating: 0, count: 256)
            let count = read(fd, &buffer, buffer.count)
            if count > 0 {
                output += buffer[..<count]
                let text = String(decoding: output, as: UTF8.self)
                if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("LISTENING ") }), text.contains("\n"),
                    let port = Int(line.dropFirst("LISTENING ".count).trimmingCharacters(in: .whitespaces))
                {
                    return OpenAICompatibleServer(process: process, port: port)
                }
            } else if count == 0 || !process.isRunning {
                throw TestServerError("the test server exited before listening: \(String(decoding: output, as: UTF8.self))")
            } else if ContinuousClock.now > deadline {
                process.terminate()
                throw TestServerError("the test server printed no LISTENING line within 20 s")
            } else {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    /// Stops it with SIGTERM, polling for exit (then SIGKILL after 3 s).
    public func stop() async {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<300 where process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            for _ in 0..<300 where process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    // MARK: Inspection

    /// Every chat-completions request body it received, in order.
    public func requests() async throws -> [RecordedRequest] {
        try JSONDecoder().decode([RecordedRequest].self, from: try await get("requests"))
    }

    /// The headers of every chat-completions request (lower-cased names).
    public func headers() async throws -> [[String: String]] {
        try JSONDecoder().decode([[String: String]].self, from: try await get("headers"))
    }

    /// Its counters.
    public func stats() async throws -> Stats {
        try JSONDecoder().decode(Stats.self, from: try await get("stats"))
    }

    /// Polls ``stats()`` until `condition` holds or `timeout` passes; returns the last stats.
    public func waitForStats(timeout: Duration = .seconds(3), _ condition: (Stats) -> Bool) async throws -> Stats {
        let deadline = ContinuousClock.now + timeout
        var stats = try await self.stats()
        while !condition(stats), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            stats = try await self.stats()
        }
        return stats
    }

    private func get(_ path: String) async throws -> Data {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "\(baseURL)/\(path)"), timeout: .seconds(10))
        guard response.status == .ok else { throw TestServerError("GET /v1/\(path) answered \(response.status)") }
        let body = try await response.body.collect(upTo: 16 << 20)
        return Data(body.readableBytesView)
    }
}

/// Runs `body` with a fresh test server, stopping it afterwards whether `body` throws or not.
public func withOpenAICompatibleServer<Result>(
    _ arguments: [String] = [],
    isolation: isolated (any Actor)? = #isolation,
    _ body: (OpenAICompatibleServer) async throws -> Result
) async throws -> Result {
    let server = try await OpenAICompatibleServer.start(arguments)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// A failure of the test harness itself.
public struct TestServerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A loopback port that nothing listens on (bound and released a moment ago).
public func unusedLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestServerError("socket failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestServerError("bind failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
