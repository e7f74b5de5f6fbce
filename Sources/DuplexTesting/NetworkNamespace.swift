import DuplexCore
import Foundation

/// A second host for tests: a Linux network namespace joined to this one by a veth pair,
/// made by the test itself (`ip netns`, root only) on its own private /30, and removed by
/// ``remove()``. Only its two addresses and loopback are ever used.
public struct NetworkNamespace: Sendable {
    /// The namespace's name (`ip netns exec NAME …`).
    public let name: String
    /// The address of this (the root) side of the link.
    public let hostAddress: String
    /// The address inside the namespace.
    public let peerAddress: String

    /// Creates the namespace and the link. The subnet is 10.231.N.0/30 with N derived from
    /// the process id, so parallel test processes do not collide.
    public static func create(prefix: String = "dpx") async throws -> NetworkNamespace {
        let tag = Int(getpid()) % 250
        let name = "\(prefix)\(tag)-\(UInt16.random(in: 0...UInt16.max))"
        let hostLink = "vh\(tag)\(UInt16.random(in: 0...9999))", peerLink = "vp\(tag)\(UInt16.random(in: 0...9999))"
        let namespace = NetworkNamespace(name: name, hostAddress: "10.231.\(tag).1", peerAddress: "10.231.\(tag).2")
        // A namespace left behind by a killed run on the same subnet would clash: remove it.
        for line in try await ip(["-o", "addr", "show"]).split(separator: "\n") where line.contains("10.231.\(tag).1/30") {
            if let link = line.split(separator: " ").dropFirst().first { _ = try? await ip(["link", "del", String(link.split(separator: "@")[0])]) }
        }
        _ = try await ip(["netns", "add", name])
        _ = try await ip(["link", "add", hostLink, "type", "veth", "peer", "name", peerLink])
        _ = try await ip(["link", "set", peerLink, "netns", name])
        _ = try await ip(["addr", "add", "\(namespace.hostAddress)/30", "dev", hostLink])
        _ = try await ip(["link", "set", hostLink, "up"])
        _ = try await ip(["-n", name, "addr", "add", "\(namespace.peerAddress)/30", "dev", peerLink])
        _ = try await ip(["-n", name, "link", "set", peerLink, "up"])
        _ = try await ip(["-n", name, "link", "set", "lo", "up"])
        return namespace
    }

    /// Runs `program` inside the namespace.
    public func run(_ program: String, _ arguments: [String], timeout: Duration = .seconds(180)) async throws -> ProgramRun.Result {
        try await ProgramRun.run("/usr/sbin/ip", ["netns", "exec", name, program] + arguments, timeout: timeout)
    }

    /// Deletes the namespace (its end of the veth pair goes with it, and so does ours).
    public func remove() async {
        _ = try? await Self.ip(["netns", "del", name])
    }

    @discardableResult
    static func ip(_ arguments: [String]) async throws -> String {
        let run = try await ProgramRun.run("/usr/sbin/ip", arguments, timeout: .seconds(20))
        guard run.status == 0 else { throw DuplexError(.io, "ip \(arguments.joined(separator: " ")) failed: \(run.errors)") }
        return run.output
    }
}
