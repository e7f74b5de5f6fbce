import DuplexCore
import DuplexEngine
import Foundation
import Synchronization

/// Speech recognition a test scripts: what each chunk of "microphone audio" is heard as,
/// and what each utterance is transcribed to.
///
/// ```swift
/// let listener = await speech.waitForListener()
/// client.send(.audio(listener.chunk(positionMs: 1000, [.bargeInEdge(atMs: 1000, onsetMs: 960)])))
/// speech.transcripts.update { $0[7] = .text("okay") }   // utterance audio tagged 7
/// ```
public final class ScriptedSpeech: SpeechRecognition {
    /// What a transcription returns.
    public enum Result: Sendable {
        /// Heard these words.
        case text(String)
        /// Nothing speakable.
        case nothing
        /// Recognition failed.
        case failure
    }

    /// State the test reads and changes.
    public struct Snapshot: Sendable {
        /// Listeners made, in order.
        public var listeners: [ScriptedListener] = []
        /// Transcription results by utterance tag (`audio[0]` of the utterance).
        public var results: [Int: Result] = [:]
        /// Tags held: their transcription waits until removed from this set.
        public var held: Set<Int> = []
        /// Tags whose transcription started, in order.
        public var started: [Int] = []
        /// Transcriptions running now.
        public var running = 0
    }

    /// The script, observable.
    public let state = Observed(Snapshot())
    public let bargeInSettleMs: Int

    /// Creates scripted recognition; speech over a reply is judged `settleMs` after it.
    public init(settleMs: Int = 100) {
        bargeInSettleMs = settleMs
    }

    public func makeListener(inputSampleRate: Int) throws(DuplexError) -> any SpeechListener {
        let listener = ScriptedListener(speech: self)
        state.update { $0.listeners.append(listener) }
        return listener
    }

    /// Waits for the `n`-th listener (1-based).
    public func waitForListener(_ n: Int = 1) async -> ScriptedListener {
        await state.wait { $0.listeners.count >= n }!.listeners[n - 1]
    }

    /// Utterance audio carrying `tag` (what ``ScriptedSpeech`` transcribes by).
    public static func audio(tag: Int) -> [Float] { [Float(tag)] + [Float](repeating: 0, count: 15) }

    func transcribe(_ audio: [Float]) async throws(DuplexError) -> Transcript? {
        let tag = Int(audio.first ?? -1)
        state.update { s in
            s.started.append(tag)
            s.running += 1
        }
        defer { state.update { $0.running -= 1 } }
        await state.wait { !$0.held.contains(tag) }
        if Task.isCancelled { throw DuplexError(.cancelled, "Transcription cancelled.") }
        switch state.value.results[tag] ?? .nothing {
        case .text(let text): return Transcript(text: text, decodeMs: 40)
        case .nothing: return nil
        case .failure: throw DuplexError(.internal, "Scripted recognition failure.")
        }
    }
}

/// One session's scripted microphone: each audio chunk the client sends names a script
/// entry (the events heard and the input position after it).
public final class ScriptedListener: SpeechListener {
    private struct Script: Sendable {
        var events: [SpeechEvent]
        var positionMs: Int
    }

    private let speech: ScriptedSpeech
    private let scripts = Mutex<[UInt64: Script]>([:])
    private let nextID = Atomic<UInt64>(0)
    private let position = Atomic<Int>(0)
    /// Chunks accepted.
    public let accepted = Observed(0)

    init(speech: ScriptedSpeech) {
        self.speech = speech
    }

    /// A chunk of "audio" that the listener hears as `events`, leaving the input at
    /// `positionMs`.
    public func chunk(positionMs: Int, _ events: [SpeechEvent]) -> Data {
        let id = nextID.add(1, ordering: .relaxed).newValue
        scripts.withLock { $0[id] = Script(events: events, positionMs: positionMs) }
        return withUnsafeBytes(of: id.littleEndian) { Data($0) }
    }

    public func accept(_ pcm: Data) async throws(DuplexError) -> [SpeechEvent] {
        defer { accepted.update { $0 += 1 } }
        guard pcm.count == 8 else { return [] }
        let id = pcm.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        guard let script = scripts.withLock({ $0.removeValue(forKey: UInt64(littleEndian: id)) }) else { return [] }
        position.store(script.positionMs, ordering: .releasing)
        return script.events
    }

    public var positionMs: Int { position.load(ordering: .acquiring) }

    public func transcribe(_ audio: [Float]) async throws(DuplexError) -> Transcript? {
        try await speech.transcribe(audio)
    }

    private let pendingTag = Mutex<Int?>(nil)

    /// Manual turns: the input since the last cut is utterance `tag` (see ``ScriptedSpeech/audio(tag:)``).
    public func pending(tag: Int) {
        pendingTag.withLock { $0 = tag }
    }

    public func cut() async -> [Float] {
        pendingTag.withLock { tag in
            defer { tag = nil }
            return tag.map { ScriptedSpeech.audio(tag: $0) } ?? []
        }
    }

    public func clearPending() async {
        pendingTag.withLock { $0 = nil }
    }
}
