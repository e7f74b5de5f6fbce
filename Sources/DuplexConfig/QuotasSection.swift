import DuplexCore

/// `quotas:` — what each API key may use (docs/SECURITY.md, "Per-key limits"). Every key
/// (and every access token, by the key it was minted for) has its own budget; without keys,
/// all clients share one budget (`open`). 0 turns a limit off; all are off by default.
///
/// Exceeding a limit is answered with `RATE_LIMITED` and a retry hint in the protocol's own
/// shape (`retry_after_ms` on the WebSocket, HTTP 429 with `Retry-After`), and counted in
/// `duplex_rate_limited_total{limit}`; the session goes on.
public struct QuotasSection: Sendable, Hashable {
    /// Concurrent sessions per key, over every protocol (WebSocket, Realtime, speech and
    /// transcription requests). Default 0 (only `limits.max_sessions` applies).
    public var sessions = 0
    /// WebSocket messages (text and binary) per second per key, with one second of burst.
    /// Messages over it are dropped with an error. Default 0.
    public var messagesPerSecond = 0.0
    /// Seconds of audio input per minute per key (microphone audio, Realtime appends,
    /// transcription uploads); a minute's worth may come at once. Default 0.
    public var audioInSecondsPerMinute = 0.0
    /// Seconds of synthesized audio per minute per key; a reply starts only while the budget
    /// is not used up, and what it plays is charged when it ends. Default 0.
    public var audioOutSecondsPerMinute = 0.0
    /// LLM tokens per minute per key (prompt and completion, estimated as 4 characters a
    /// token); a turn is answered only while the budget is not used up. Default 0.
    public var llmTokensPerMinute = 0

    /// The defaults (no limits).
    public init() {}

    /// Whether any limit is set.
    public var isEnabled: Bool {
        sessions > 0 || messagesPerSecond > 0 || audioInSecondsPerMinute > 0 || audioOutSecondsPerMinute > 0 || llmTokensPerMinute > 0
    }

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "sessions": sessions = try f.int(0...10_000)
        case "messages_per_s": messagesPerSecond = try f.double(0...100_000)
        case "audio_in_s_per_min": audioInSecondsPerMinute = try f.double(0...100_000)
        case "audio_out_s_per_min": audioOutSecondsPerMinute = try f.double(0...100_000)
        case "llm_tokens_per_min": llmTokensPerMinute = try f.int(0...100_000_000)
        default: throw f.unknownKey()
        }
    }
}
