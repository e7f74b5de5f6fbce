/// A message on the registry channel `<prefix>:workers`, e.g. `{"event":"up","name":"w1"}`.
///
/// Events only say *which* worker changed; the record itself is always re-read from its key, so a
/// lost or reordered event costs at most one rescan interval.
public struct RegistryEvent: Sendable, Codable, Hashable {
    /// What happened to the worker.
    public enum Kind: String, Sendable, Codable, Hashable, CaseIterable {
        /// The worker registered (at start, or re-registered after its key was lost).
        case up
        /// Resident models, readiness or capabilities changed.
        case update
        /// The worker deregistered on graceful shutdown.
        case down
    }

    /// What happened.
    public var kind: Kind
    /// The worker's name (``WorkerRecord/name``).
    public var name: String

    /// Creates an event.
    public init(_ kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }

    enum CodingKeys: String, CodingKey {
        case kind = "event"
        case name
    }
}
