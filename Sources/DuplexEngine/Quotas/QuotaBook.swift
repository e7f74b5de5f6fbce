import DuplexConfig
import DuplexCore
import Synchronization

/// Every key's ``KeyQuota``, made on first use. Transport adapters ask it for the quota of
/// a request's principal (its bounded label: `key-…`, or `open` without keys) and hold a
/// ``QuotaLease`` for each session they run.
///
/// Keys are never forgotten while the process runs: their number is bounded by the
/// configured keys (tokens are charged to the key they were minted for).
public final class QuotaBook: Sendable {
    /// The limits every key gets.
    public let limits: QuotasSection
    private let now: @Sendable () -> Duration
    private let quotas = Mutex<[String: KeyQuota]>([:])
    /// Most distinct keys held (tokens minted by an operator's service may carry any
    /// subject); past it, new subjects share one overflow budget.
    public static let maxKeys = 10_000

    /// Creates the book.
    /// - Parameter now: monotonic time (tests inject a manual clock's); the default is the
    ///   continuous clock since the book was made.
    public init(limits: QuotasSection, now: (@Sendable () -> Duration)? = nil) {
        self.limits = limits
        if let now {
            self.now = now
        } else {
            let start = ContinuousClock.now
            self.now = { start.duration(to: .now) }
        }
    }

    /// The quota of `key`.
    public func quota(for key: String) -> KeyQuota {
        quotas.withLock { all in
            if let found = all[key] { return found }
            let label = all.count < Self.maxKeys ? key : "overflow"
            if let found = all[label] { return found }
            let made = KeyQuota(key: label, limits: limits, now: now)
            all[label] = made
            return made
        }
    }

    /// Opens a session for `key`: its quota, counted in until the lease is closed.
    /// - Throws: ``DuplexError`` (`rateLimited`) when the key runs `quotas.sessions` already.
    public func openSession(for key: String) throws(DuplexError) -> QuotaLease {
        let quota = quota(for: key)
        if let refusal = quota.enterSession() { throw refusal }
        return QuotaLease(quota: quota)
    }
}

/// One session's hold on its key's quota: counted among the key's sessions until
/// ``close()`` (idempotent; also on deinit, so a lease dropped on an error path is not lost).
public final class QuotaLease: Sendable {
    /// The key's quota, which the session's checks draw on.
    public let quota: KeyQuota
    private let open = Atomic<Bool>(true)

    init(quota: KeyQuota) {
        self.quota = quota
    }

    /// Counts the session out.
    public func close() {
        if open.exchange(false, ordering: .relaxed) { quota.leaveSession() }
    }

    deinit { close() }
}
