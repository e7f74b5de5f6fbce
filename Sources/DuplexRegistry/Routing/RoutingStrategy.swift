/// How ``Router`` orders the eligible workers (`routing.strategy`).
public enum RoutingStrategy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Lowest queue depth, then fewest active sessions, then name.
    case leastLoaded = "least_loaded"
    /// Lowest median first-audio latency (unknown/0 last), then least loaded.
    case lowestLatency = "lowest_latency"
    /// Each decision starts one worker further along the name-sorted candidates.
    case roundRobin = "round_robin"
    /// A uniformly random order.
    case random
}
