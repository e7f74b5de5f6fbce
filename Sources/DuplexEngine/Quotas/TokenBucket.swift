/// A token bucket over an injected time: it holds up to `capacity` tokens and refills at
/// `ratePerSecond`. The per-key limits (``KeyQuota``) are buckets of messages, audio seconds
/// and LLM tokens. Pure and synchronous, so tests drive it with any time they like.
public struct TokenBucket: Sendable, Hashable {
    /// Most tokens held (the burst).
    public let capacity: Double
    /// Tokens added per second.
    public let ratePerSecond: Double
    /// Tokens now (negative after an overdraft: ``charge(_:at:)``).
    public private(set) var tokens: Double
    private var updated: Duration

    /// A full bucket at time `now`.
    public init(capacity: Double, ratePerSecond: Double, now: Duration) {
        precondition(capacity > 0 && ratePerSecond > 0)
        self.capacity = capacity
        self.ratePerSecond = ratePerSecond
        tokens = capacity
        updated = now
    }

    /// A bucket for "`amount` per minute": a minute's worth of burst, refilled evenly.
    public static func perMinute(_ amount: Double, now: Duration) -> TokenBucket {
        TokenBucket(capacity: amount, ratePerSecond: amount / 60, now: now)
    }

    /// A bucket for "`amount` per second" with one second of burst.
    public static func perSecond(_ amount: Double, now: Duration) -> TokenBucket {
        TokenBucket(capacity: amount, ratePerSecond: amount, now: now)
    }

    private mutating func refill(at now: Duration) {
        guard now > updated else { return }
        let seconds = Double((now - updated).components.seconds) + Double((now - updated).components.attoseconds) / 1e18
        tokens = min(capacity, tokens + seconds * ratePerSecond)
        updated = now
    }

    /// Takes `amount` tokens if the bucket holds them; otherwise takes nothing and returns
    /// the wait until it would, in ms.
    /// - Returns: nil when taken, else the retry hint in ms (at least 1).
    public mutating func take(_ amount: Double, at now: Duration) -> Int? {
        refill(at: now)
        if tokens >= amount {
            tokens -= amount
            return nil
        }
        return wait(for: amount)
    }

    /// Whether the bucket is not overdrawn (tokens at or above zero); otherwise the ms until
    /// it is no longer.
    /// For costs known only afterwards (a reply's audio, an LLM answer): admit while this is
    /// nil, then ``charge(_:at:)`` what was used.
    public mutating func admit(at now: Duration) -> Int? {
        refill(at: now)
        return tokens >= 0 ? nil : max(1, Int((-tokens / ratePerSecond * 1000).rounded(.up)))
    }

    /// Takes `amount` whatever the bucket holds (it may go negative, at most one capacity
    /// below zero, so a huge cost delays the key for a bounded time).
    public mutating func charge(_ amount: Double, at now: Duration) {
        refill(at: now)
        tokens = max(-capacity, tokens - amount)
    }

    private func wait(for amount: Double) -> Int {
        let missing = min(amount, capacity) - tokens
        return max(1, Int((missing / ratePerSecond * 1000).rounded(.up)))
    }
}
