import Foundation

/// Which browser origins may open WebSockets and make CORS requests.
///
/// Allowed: the server's own origin (the `Origin` names the host the request was sent to),
/// `http(s)://localhost`, `127.0.0.1` and `[::1]` on any port, and the configured list
/// (`*` allows all); `ws(s)://` origins, which some non-browser clients send, are judged
/// alike. A request without `Origin` is not from a browser page and passes: the
/// policy keeps a foreign page from driving a server through its visitor's browser.
///
/// ```swift
/// let policy = OriginPolicy(allowed: ["https://app.example.com"])
/// policy.allows(origin: "https://evil.example", host: "127.0.0.1:8080")  // false
/// ```
public struct OriginPolicy: Sendable {
    private let allowed: Set<String>
    private let allowsAll: Bool

    /// Creates the policy from `security.allowed_origins`.
    public init(allowed: [String]) {
        allowsAll = allowed.contains("*")
        self.allowed = Set(allowed.filter { $0 != "*" }.map(Self.normalized))
    }

    /// Whether a request with `Origin: origin` sent to `Host: host` is allowed.
    public func allows(origin: String?, host: String?) -> Bool {
        guard let origin, !origin.isEmpty else { return true }
        if allowsAll { return true }
        let normalized = Self.normalized(origin)
        if allowed.contains(normalized) { return true }
        guard let parsed = Self.parse(normalized) else { return false }  // "null" and garbage
        if ["localhost", "127.0.0.1", "[::1]"].contains(parsed.host) { return true }
        // Same origin: the page was served by this server under the name it reached it by.
        if let host {
            let target = host.lowercased()
            // A ws(s) origin is never a browser page's; such clients name the host they dial
            // without its port (swift-websocket's WSClient): the host alone must match.
            if parsed.scheme.hasPrefix("ws"), Self.hostPart(of: target) == parsed.host { return true }
            let withPort = parsed.port.map { "\(parsed.host):\($0)" } ?? parsed.host
            if target == withPort { return true }
            // A default port may be left out of one side.
            let defaultPort = parsed.scheme == "https" || parsed.scheme == "wss" ? 443 : 80
            if parsed.port == nil, target == "\(parsed.host):\(defaultPort)" { return true }
            if parsed.port == defaultPort, target == parsed.host { return true }
        }
        return false
    }

    /// `host[:port]` → host (IPv6 keeps its brackets).
    private static func hostPart(of authority: String) -> String {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") { return String(authority[...close]) }
        return String(authority.split(separator: ":", maxSplits: 1).first ?? "")
    }

    private static func normalized(_ origin: String) -> String {
        var value = origin.lowercased()
        while value.hasSuffix("/") { value.removeLast() }
        return value
    }

    /// `scheme://host[:port]` → parts (IPv6 hosts keep their brackets).
    static func parse(_ origin: String) -> (scheme: String, host: String, port: Int?)? {
        guard let separator = origin.range(of: "://") else { return nil }
        let scheme = String(origin[..<separator.lowerBound])
        // Browsers send the page's http(s) origin; some WebSocket clients (HummingbirdWSClient)
        // send the ws(s) URL they connect to, which the same rules judge.
        guard ["http", "https", "ws", "wss"].contains(scheme) else { return nil }
        let authority = origin[separator.upperBound...]
        guard !authority.isEmpty, !authority.contains("/"), !authority.contains("@") else { return nil }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            let host = String(authority[...close])
            let rest = authority[authority.index(after: close)...]
            if rest.isEmpty { return (scheme, host, nil) }
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()) else { return nil }
            return (scheme, host, port)
        }
        let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return (scheme, String(parts[0]), nil)
        case 2:
            guard let port = Int(parts[1]) else { return nil }
            return (scheme, String(parts[0]), port)
        default: return nil
        }
    }
}
