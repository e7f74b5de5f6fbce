import CEspeakNG
import DuplexCore
import Foundation
import Synchronization

/// Thread-safe access to libespeak-ng, a multilingual formant synthesizer and phonemizer.
///
/// espeak-ng keeps global state and is not thread-safe, so every call runs on one
/// dedicated thread (a one-thread ``BlockingExecutor``); callers simply `await`.
/// The library can be initialized once per process, hence the single ``shared`` engine.
///
/// ```swift
/// let pcm = try await EspeakEngine.shared.synthesize("Hello.", voice: "en-us")  // 22.05 kHz s16
/// ```
public final class EspeakEngine: Sendable {
    /// The process-wide engine. espeak-ng has process-global state, so there can only be one;
    /// the instance itself is immutable and serializes all access.
    public static let shared = EspeakEngine()

    private let executor = BlockingExecutor(name: "espeak", threads: 1, queueCapacity: 256)
    private let initialization = Mutex<Result<Int, DuplexError>?>(nil)

    private init() {}

    /// The synthesizer's output sample rate (22050 Hz), initializing the library if needed.
    public func sampleRate() async throws(DuplexError) -> Int {
        try await initialize()
    }

    private func initialize() async throws(DuplexError) -> Int {
        if let done = initialization.withLock({ $0 }) { return try done.get() }
        let result: Result<Int, DuplexError>
        do {
            result = try await executor.run { [self] in
                if let done = self.initialization.withLock({ $0 }) { return done }
                let rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, nil, 0)
                let outcome: Result<Int, DuplexError> =
                    rate > 0
                    ? .success(Int(rate))
                    : .failure(DuplexError(
                        .modelLoadFailed,
                        "espeak-ng failed to initialize (is espeak-ng-data installed? `apt-get install espeak-ng-data`)."))
                if rate > 0 { espeak_SetSynthCallback(espeakSynthCallback) }
                self.initialization.withLock { $0 = outcome }
                return outcome
            }
        } catch {
            throw DuplexError(.internal, "espeak-ng initialization was interrupted.", cause: error)
        }
        return try result.get()
    }

    /// Lists the voice names espeak-ng knows (e.g. `en-us`, `de`, `fr-fr`).
    public func voiceNames() async throws(DuplexError) -> [String] {
        _ = try await initialize()
        return try await run {
            var names: [String] = []
            guard let list = espeak_ListVoices(nil) else { return names }
            var index = 0
            while let voice = list[index] {
                if let name = voice.pointee.languages {
                    // `languages` is a priority byte followed by a NUL-terminated name.
                    names.append(String(cString: name + 1))
                }
                index += 1
            }
            return names
        }
    }

    /// Synthesizes text to mono s16 PCM at ``sampleRate()``.
    /// - Parameters:
    ///   - voice: an espeak-ng voice or language name such as `en-us`.
    ///   - wordsPerMinute: speaking rate (80–450; espeak's default is 175).
    public func synthesize(_ text: String, voice: String, wordsPerMinute: Int = 175) async throws(DuplexError) -> [Int16] {
        _ = try await initialize()
        let sink = SynthesisSink()
        do {
            return try await withTaskCancellationHandler {
            try await executor.run {
                guard espeak_SetVoiceByName(voice) == EE_OK else {
                    throw DuplexError(.unknownModel, "espeak-ng has no voice '\(voice)'; `espeak-ng --voices` lists them.")
                }
                espeak_SetParameter(espeakRATE, Int32(max(80, min(450, wordsPerMinute))), 0)
                let unmanaged = Unmanaged.passRetained(sink)
                defer { unmanaged.release() }
                let status = text.withCString { pointer in
                    espeak_Synth(
                        pointer, strlen(pointer) + 1, 0, POS_CHARACTER, 0,
                        UInt32(espeakCHARS_UTF8), nil, unmanaged.toOpaque())
                }
                guard status == EE_OK else {
                    throw DuplexError(.synthesisFailed, "espeak-ng could not synthesize the text (status \(status.rawValue)).")
                }
                return sink.takeSamples()
            }
            } onCancel: {
                sink.cancel()
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// Converts text to IPA phonemes with espeak-ng, one string per clause as espeak splits them.
    public func phonemize(_ text: String, voice: String) async throws(DuplexError) -> [String] {
        _ = try await initialize()
        return try await run {
            guard espeak_SetVoiceByName(voice) == EE_OK else {
                throw DuplexError(.unknownModel, "espeak-ng has no voice '\(voice)'; `espeak-ng --voices` lists them.")
            }
            var clauses: [String] = []
            text.withCString { start in
                var pointer: UnsafeRawPointer? = UnsafeRawPointer(start)
                // phonememode: bit 1 = IPA (UTF-8).
                while pointer != nil {
                    guard let result = espeak_TextToPhonemes(&pointer, Int32(espeakCHARS_UTF8), 0x02) else { break }
                    clauses.append(String(cString: result))
                }
            }
            return clauses
        }
    }

    /// Converts several clauses to IPA in one call on the espeak thread; one string per input
    /// clause (espeak's own sub-clauses joined with a space). Used by the Piper phonemizer.
    public func phonemize(clauses: [String], voice: String) async throws(DuplexError) -> [String] {
        _ = try await initialize()
        return try await run {
            guard espeak_SetVoiceByName(voice) == EE_OK else {
                throw DuplexError(.unknownModel, "espeak-ng has no voice '\(voice)'; `espeak-ng --voices` lists them.")
            }
            return clauses.map { clause in
                var parts: [String] = []
                clause.withCString { start in
                    var pointer: UnsafeRawPointer? = UnsafeRawPointer(start)
                    while pointer != nil {
                        guard let result = espeak_TextToPhonemes(&pointer, Int32(espeakCHARS_UTF8), 0x02) else { break }
                        let text = String(cString: result)
                        if !text.isEmpty { parts.append(text) }
                    }
                }
                return parts.joined(separator: " ")
            }
        }
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws(DuplexError) -> T {
        do {
            return try await executor.run(body)
        } catch {
            throw Self.map(error)
        }
    }

    private static func map(_ error: any Error) -> DuplexError {
        switch error {
        case let error as DuplexError: error
        case is CancellationError: DuplexError(.cancelled, "espeak-ng call cancelled.", cause: error)
        default: DuplexError(.internal, "espeak-ng call failed.", cause: error)
        }
    }
}

/// Collects the samples espeak-ng hands to its callback during one `espeak_Synth` call.
/// Only the espeak thread touches `samples`; the cancel flag is atomic.
final class SynthesisSink: @unchecked Sendable {
    // Written only on the espeak thread inside espeak_Synth, read after it returns on the same thread.
    var samples: [Int16] = []
    private let cancelled = Atomic<Bool>(false)

    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
    func cancel() { cancelled.store(true, ordering: .relaxed) }

    func takeSamples() -> [Int16] {
        defer { samples = [] }
        return samples
    }
}

/// espeak-ng's synthesis callback; `user_data` of the first event points at the sink.
/// Returning 1 aborts synthesis (used for cancellation).
private func espeakSynthCallback(
    _ wav: UnsafeMutablePointer<Int16>?, _ count: Int32, _ events: UnsafeMutablePointer<espeak_EVENT>?
) -> Int32 {
    guard let events, let userData = events.pointee.user_data else { return 0 }
    let sink = Unmanaged<SynthesisSink>.fromOpaque(userData).takeUnretainedValue()
    if let wav, count > 0 {
        sink.samples.append(contentsOf: UnsafeBufferPointer(start: wav, count: Int(count)))
    }
    return sink.isCancelled ? 1 : 0
}
