import DuplexConfig
import DuplexCore
import Metrics
import Synchronization

/// What one API key may still use (`quotas:`): its concurrent sessions and its buckets of
/// messages, audio seconds in and out, and LLM tokens. Every session and request of the key
/// draws on the same ``KeyQuota`` (from ``QuotaBook``); each check answers nil (go on) or a
/// `RATE_LIMITED` ``DuplexError`` with ``DuplexError/retryAfterMs`` set.
///
/// Thread-safe; the checks are a lock and a few arithmetic operations, cheap enough for
/// every message and audio chunk.
public final class KeyQuota: Sendable {
    /// Which limit refused something (the `limit` label of `duplex_rate_limited_total`).
    public enum Limit: String, Sendable, CaseIterable {
        case sessions, messages, audioIn = "audio_in", audioOut = "audio_out", llmTokens = "llm_tokens"
    }

    private struct State {
        var sessions = 0
        var messages: TokenBucket?
        var audioIn: TokenBucket?
        var audioOut: TokenBucket?
        var llmTokens: TokenBucket?
    }

    /// The key's label (`key-1a2b3c4d`, `open`): safe for logs, sent to workers as the tenant
    /// their inference scheduler shares the cores fairly between.
    public let key: String
    /// The limits.
    public let limits: QuotasSection
    private let now: @Sendable () -> Duration
    private let state: Mutex<State>
    private let refused: [Limit: Counter]

    /// Creates the key's budget, full.
    /// - Parameter now: monotonic time (tests inject a manual clock's).
    public init(key: String, limits: QuotasSection, now: @escaping @Sendable () -> Duration) {
        self.key = key
        self.limits = limits
        self.now = now
        let t = now()
        var s = State()
        if limits.messagesPerSecond > 0 { s.messages = .perSecond(limits.messagesPerSecond, now: t) }
        if limits.audioInSecondsPerMinute > 0 { s.audioIn = .perMinute(limits.audioInSecondsPerMinute, now: t) }
        if limits.audioOutSecondsPerMinute > 0 { s.audioOut = .perMinute(limits.audioOutSecondsPerMinute, now: t) }
        if limits.llmTokensPerMinute > 0 { s.llmTokens = .perMinute(Double(limits.llmTokensPerMinute), now: t) }
        state = Mutex(s)
        refused = Dictionary(uniqueKeysWithValues: Limit.allCases.map {
            ($0, Counter(label: "duplex_rate_limited_total", dimensions: [("limit", $0.rawValue)]))
        })
    }

    /// The quota's time (monotonic), for callers that space out their refusal notices.
    public var time: Duration { now() }

    /// Sessions of this key running now.
    public var activeSessions: Int { state.withLock { $0.sessions } }

    /// Counts a session in, unless the key already runs `quotas.sessions`; balance with
    /// ``leaveSession()``.
    public func enterSession() -> DuplexError? {
        let admitted = state.withLock { s -> Bool in
            guard limits.sessions == 0 || s.sessions < limits.sessions else { return false }
            s.sessions += 1
            return true
        }
        guard !admitted else { return nil }
        return refusal(.sessions, retryAfterMs: 1000, "This API key already runs \(limits.sessions) sessions (quotas.sessions); end one or try again later.")
    }

    /// Counts a session out.
    public func leaveSession() {
        state.withLock { $0.sessions = max(0, $0.sessions - 1) }
    }

    /// One client message (WebSocket text or binary).
    public func takeMessage() -> DuplexError? {
        let t = now()
        guard let wait = state.withLock({ $0.messages?.take(1, at: t) }) else { return nil }
        return refusal(.messages, retryAfterMs: wait, "More than \(Self.format(limits.messagesPerSecond)) messages per second from this API key (quotas.messages_per_s); messages are dropped until the rate falls.")
    }

    /// `seconds` of audio input arriving.
    public func takeAudioIn(seconds: Double) -> DuplexError? {
        let t = now()
        guard let wait = state.withLock({ $0.audioIn?.take(seconds, at: t) }) else { return nil }
        return refusal(.audioIn, retryAfterMs: wait, "This API key used its \(Self.format(limits.audioInSecondsPerMinute)) s of audio input per minute (quotas.audio_in_s_per_min); audio is dropped until the budget refills.")
    }

    /// Whether audio input is still in budget, for a cost known only later (an upload).
    public func admitAudioIn() -> DuplexError? {
        let t = now()
        guard let wait = state.withLock({ $0.audioIn?.admit(at: t) }) else { return nil }
        return refusal(.audioIn, retryAfterMs: wait, "This API key used its \(Self.format(limits.audioInSecondsPerMinute)) s of audio input per minute (quotas.audio_in_s_per_min).")
    }

    /// Charges audio input already accepted (an upload's decoded length).
    public func chargeAudioIn(seconds: Double) {
        let t = now()
        state.withLock { $0.audioIn?.charge(seconds, at: t) }
    }

    /// Whether a reply (or a speech request) may start speaking.
    public func admitAudioOut() -> DuplexError? {
        let t = now()
        guard let wait = state.withLock({ $0.audioOut?.admit(at: t) }) else { return nil }
        return refusal(.audioOut, retryAfterMs: wait, "This API key used its \(Self.format(limits.audioOutSecondsPerMinute)) s of synthesized audio per minute (quotas.audio_out_s_per_min); this reply is not spoken.")
    }

    /// Charges synthesized audio that was sent.
    public func chargeAudioOut(seconds: Double) {
        let t = now()
        state.withLock { $0.audioOut?.charge(seconds, at: t) }
    }

    /// Whether an LLM request may start.
    public func admitLLM() -> DuplexError? {
        let t = now()
        guard let wait = state.withLock({ $0.llmTokens?.admit(at: t) }) else { return nil }
        return refusal(.llmTokens, retryAfterMs: wait, "This API key used its \(limits.llmTokensPerMinute) LLM tokens per minute (quotas.llm_tokens_per_min); this turn is not answered.")
    }

    /// Charges the tokens of an LLM exchange.
    public func chargeLLM(tokens: Int) {
        let t = now()
        state.withLock { $0.llmTokens?.charge(Double(tokens), at: t) }
    }

    /// The estimate of an exchange's tokens: 4 characters a token, prompt and completion.
    public static func estimatedTokens(characters: Int) -> Int {
        (characters + 3) / 4
    }

    private func refusal(_ limit: Limit, retryAfterMs: Int, _ message: String) -> DuplexError {
        refused[limit]?.increment()
        return DuplexError(.rateLimited, message + " Retry in \(retryAfterMs) ms.", retryAfterMs: retryAfterMs)
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
