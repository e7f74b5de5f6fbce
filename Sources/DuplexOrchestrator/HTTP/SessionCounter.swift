import Metrics
import Synchronization

/// The sessions running on this server, whatever their protocol (WebSocket, Realtime,
/// `/v1/audio/speech`), against `limits.max_sessions`; reported as `duplex_ws_sessions_active`.
final class SessionCounter: Sendable {
    private let count = Atomic<Int>(0)
    private let active = Recorder(label: "duplex_ws_sessions_active", aggregate: false)

    /// Sessions running now.
    var current: Int { count.load(ordering: .relaxed) }

    /// Counts a session in; returns the count including it (over the limit: refuse it, and
    /// still call ``leave()``).
    func enter() -> Int {
        let value = count.add(1, ordering: .relaxed).newValue
        active.record(value)
        return value
    }

    /// Counts a session out.
    func leave() {
        active.record(count.subtract(1, ordering: .relaxed).newValue)
    }
}
