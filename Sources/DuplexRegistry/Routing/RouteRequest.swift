/// What a session needs from a worker.
public struct RouteRequest: Sendable, Hashable {
    /// Capabilities the worker must all have, e.g. `["streaming", "zero_shot"]`.
    public var requiredCapabilities: Set<String>
    /// The language tag the session speaks, e.g. `en-us` or `en`; `nil` accepts any worker.
    /// Matching is case-insensitive and by primary subtag (`en` matches `en-us` and `en-gb`).
    public var language: String?
    /// The catalog model id the session wants; `nil` uses the worker's default.
    public var modelID: String?

    /// Creates a request; the defaults accept any ready worker.
    public init(requiredCapabilities: Set<String> = [], language: String? = nil, modelID: String? = nil) {
        self.requiredCapabilities = requiredCapabilities
        self.language = language
        self.modelID = modelID
    }
}
