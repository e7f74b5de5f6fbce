/// Turn-taking settings of conversation mode.
public struct ConversationSettings: Sendable, Hashable {
    /// User speech over a reply must last this long to stop it; shorter speech (a cough, a
    /// click) only pauses it, and it resumes where it paused. Default 300 ms.
    public var minInterruptionMs = 300
    /// Utterances that never start a reply or stop one (lower case, letters only).
    public var backchannels: Set<String> = ["uh huh", "uhhuh", "mhm", "mm hmm", "yeah", "yes", "right", "okay", "ok", "hmm"]

    /// The defaults.
    public init() {}
}
