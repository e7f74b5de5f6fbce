import DuplexConfig
import DuplexCore
import DuplexDSP
import DuplexEngine
import DuplexSherpa
import DuplexTesting
import DuplexTurn
import Foundation
import Testing

/// End of turn on recorded human speech (the project's clips) with the real models: Silero,
/// Smart Turn v3.2 and Whisper tiny.en. The listener waits for each model call in the chunk
/// that asked (``SpeechInput/waitsForModels``), so the outcome does not depend on how fast
/// the test feeds audio; real-time behaviour is measured by `duplex bench conversation`.
@Suite(.serialized) struct EndOfTurnTests {
    static let smartTurn = Result { () throws(DuplexError) in try SmartTurnModel(path: TestAssets.smartTurn) }

    static func services(aggressiveness: Int = 2, model: Bool = true, partialIntervalMs: Int = 0) throws -> SpeechServices {
        var section = TurnSection()
        section.partialIntervalMs = partialIntervalMs
        return SpeechServices(
            vadModel: TestAssets.sileroVAD, vadParameters: .preset(aggressiveness: aggressiveness),
            recognizer: try SpeechModels.whisper.get(), endOfTurnModel: model ? try smartTurn.get() : nil, turn: TurnSettings(section))
    }

    /// `two_cities.wav` 0–4.4 s ("It was the best of times, it was the worst of times"), with
    /// `pauseMs` of the clip's own background noise inserted at 3.7 s (mid-clause, between
    /// "the worst" and "of times"), then 3 s of background.
    static func sentence(pauseMs: Int) throws -> [Int16] {
        try spliced("two_cities", from: 0, to: 4.4, pauseAt: 3.7, pauseMs: pauseMs)
    }

    static func spliced(_ clip: String, from: Double, to: Double, pauseAt: Double?, pauseMs: Int, tailMs: Int = 3000) throws -> [Int16] {
        let samples = try WAVFile.read(path: TestAssets.clip(clip)).samples
        let rate = 16_000
        func at(_ seconds: Double) -> Int { min(samples.count, Int(seconds * Double(rate))) }
        // The room: the clip's first 0.45 s are background only.
        let room = Array(samples[0..<at(0.45)])
        func background(_ ms: Int) -> [Int16] { (0..<(ms * rate / 1000)).map { room[$0 % room.count] } }
        guard let pauseAt else { return Array(samples[at(from)..<at(to)]) + background(tailMs) }
        return Array(samples[at(from)..<at(pauseAt)]) + background(pauseMs) + Array(samples[at(pauseAt)..<at(to)]) + background(tailMs)
    }

    /// Feeds 20 ms chunks and returns the events, the turns' transcripts and decisions.
    static func listen(_ samples: [Int16], services: SpeechServices, transcribe: Bool = true) async throws
        -> (events: [SpeechEvent], transcripts: [String], decisions: [EndOfTurnDecision])
    {
        let input = try SpeechInput(
            inputSampleRate: 16_000, services: services, burstAllowance: .seconds(3600), waitsForModels: true, partialTranscripts: true)
        var events: [SpeechEvent] = []
        for start in stride(from: 0, to: samples.count, by: 320) {
            let chunk = samples[start..<min(samples.count, start + 320)]
            events += try await input.accept(chunk.withUnsafeBytes { Data($0) })
        }
        events += try await input.finish()
        var transcripts: [String] = [], decisions: [EndOfTurnDecision] = []
        for event in events {
            if transcribe, case .speechEnded(_, _, let audio) = event { transcripts.append(try await input.transcribe(audio)?.text ?? "") }
            if case .endOfTurn(let decision) = event { decisions.append(decision) }
        }
        return (events, transcripts, decisions)
    }

    @Test(arguments: [0, 1, 2, 3])
    func aMidSentencePauseIsOneTurnWithBothHalves(aggressiveness: Int) async throws {
        for pauseMs in [700, 900] {
            let heard = try await Self.listen(try Self.sentence(pauseMs: pauseMs), services: try Self.services(aggressiveness: aggressiveness))
            let probes = heard.events.compactMap { event -> TurnProbe? in if case .turnProbed(let p) = event { p } else { nil } }
            print("end of turn: aggressiveness \(aggressiveness), \(pauseMs) ms pause: \(heard.transcripts) \(heard.decisions) probes \(probes.map { ($0.probability * 100).rounded() / 100 })")
            #expect(heard.transcripts.count == 1, "aggressiveness \(aggressiveness), \(pauseMs) ms: \(heard.transcripts)")
            let text = heard.transcripts.first?.lowercased() ?? ""
            #expect(text.contains("best of times") && text.contains("worst"), "\(text)")
            #expect(text.contains("worst of time"), "\(text)")
            // The pause was heard and judged incomplete: the model, not the clock, kept the turn.
            #expect(probes.first?.complete == false)
        }
    }

    @Test func theSentenceWithoutThePauseEndsWithin300MsOfSilence() async throws {
        let heard = try await Self.listen(try Self.sentence(pauseMs: 0), services: try Self.services())
        print("end of turn, no pause: \(heard.transcripts) \(heard.decisions)")
        #expect(heard.transcripts.count == 1)
        let decision = try #require(heard.decisions.first)
        #expect(decision.reason == .model)
        #expect(decision.silenceMs <= 300, "waited \(decision.silenceMs) ms of silence")
        #expect((decision.probability ?? 0) >= 0.5)
    }

    @Test func fixedSilenceStillWorksAndCutsThePausedSentence() async throws {
        let whole = try await Self.listen(try Self.sentence(pauseMs: 0), services: try Self.services(model: false))
        print("fixed silence, no pause: \(whole.transcripts) \(whole.decisions)")
        #expect(whole.transcripts.count == 1)
        #expect(whole.decisions.first?.reason == .fixedSilence)
        #expect((whole.decisions.first?.silenceMs ?? 0) >= 500)
        #expect(!whole.events.contains { if case .turnProbed = $0 { true } else { false } })
        // What the model fixes: the fixed 500 ms silence answers the first half alone.
        let paused = try await Self.listen(try Self.sentence(pauseMs: 800), services: try Self.services(model: false))
        print("fixed silence, 800 ms pause: \(paused.transcripts)")
        #expect(paused.transcripts.count == 2)
    }

    /// 20 paused utterances: a 700–900 ms pause inserted inside a clause of the clip (where
    /// nobody would have finished: after "it was the", "we had", "in short, the period was"…),
    /// each utterance from 2.5 s before the cut to 1.5 s after it. Premature: the turn ends at
    /// the inserted pause. The figures are printed (docs/PERFORMANCE.md).
    @Test func pausedUtterancesAreNotCutAtTheirPause() async throws {
        var premature = (model: 0, fixed: 0)
        for (index, cut) in Self.midClauseCuts.enumerated() {
            let pauseMs = 700 + 100 * (index % 3)
            let from = max(0, cut.at - 2.5)
            let audio = try Self.spliced(cut.clip, from: from, to: cut.at + 1.5, pauseAt: cut.at, pauseMs: pauseMs)
            // (No transcripts: only where the turns end matters here, and the suite runs in parallel.)
            let withModel = try await Self.listen(audio, services: try Self.services(), transcribe: false)
            let fixed = try await Self.listen(audio, services: try Self.services(model: false), transcribe: false)
            let cutMs = Int((cut.at - from) * 1000)
            func endsAtThePause(_ events: [SpeechEvent]) -> Bool {
                events.contains { if case .speechEnded(let atMs, _, _) = $0 { atMs > cutMs - 400 && atMs <= cutMs + 50 } else { false } }
            }
            if endsAtThePause(withModel.events) { premature.model += 1 }
            if endsAtThePause(fixed.events) { premature.fixed += 1 }
            let probes = withModel.events.compactMap { event -> Float? in if case .turnProbed(let p) = event { (p.probability * 100).rounded() / 100 } else { nil } }
            func ends(_ events: [SpeechEvent]) -> [Int] { events.compactMap { if case .speechEnded(let atMs, _, _) = $0 { atMs } else { nil } } }
            print("paused utterance \(cut.clip) \(cut.at)s (\(cut.text)) +\(pauseMs) ms at \(cutMs) ms: turns end at \(ends(withModel.events)) (probes \(probes)), fixed silence \(ends(fixed.events))")
        }
        print("premature turn ends on \(Self.midClauseCuts.count) paused utterances: Smart Turn \(premature.model), fixed silence \(premature.fixed)")
        // Measured: Smart Turn 6 of 20 (short fragments right after a phrase-final pause,
        // which the model hears as complete), fixed silence 19 of 20.
        #expect(premature.fixed >= 15)
        #expect(premature.model * 3 <= premature.fixed)
    }

    @Test func partialTranscriptsFollowTheSpeechAndNeverReplaceTheFinalOne() async throws {
        let heard = try await Self.listen(try Self.sentence(pauseMs: 0), services: try Self.services(partialIntervalMs: 400))
        var partials: [(atMs: Int, text: String)] = []
        var endMs: Int?
        for event in heard.events {
            switch event {
            case .partialTranscript(let text, let atMs): partials.append((atMs, text))
            case .speechEnded(let atMs, _, _): endMs = atMs
            default: break
            }
        }
        print("partials: \(partials.map { "\($0.atMs) ms: \($0.text)" }) final \(heard.transcripts)")
        // Every 400 ms or more, only while the turn is open, growing towards the final text.
        #expect(partials.count >= 3)
        for (earlier, later) in zip(partials, partials.dropFirst()) { #expect(later.atMs - earlier.atMs >= 400) }
        #expect(partials.allSatisfy { $0.atMs <= (endMs ?? 0) + 300 })
        #expect(partials.first?.text.lowercased().contains("it was") == true)
        #expect(heard.transcripts.count == 1)
    }

    @Test func aMissingOrCorruptTurnModelStopsTheStartOrFallsBackWhenAskedTo() throws {
        let corrupt = NSTemporaryDirectory() + "smart-turn-corrupt-\(UUID()).onnx"
        try Data(repeating: 0x5A, count: 2048).write(to: URL(fileURLWithPath: corrupt))
        defer { try? FileManager.default.removeItem(atPath: corrupt) }
        for path in ["/nonexistent/smart-turn.onnx", corrupt] {
            var config = DuplexConfiguration()
            config.turn.modelPath = path
            #expect { try SpeechServices.loadEndOfTurnModel(config) } throws: { error in
                let error = error as? DuplexError
                return error?.code == .modelLoadFailed && error?.message.contains("turn.model") == true && error?.message.contains(path) == true
            }
            config.turn.onModelError = "fixed_silence"
            let fallback = try SpeechServices.loadEndOfTurnModel(config)
            #expect(fallback.model == nil)
            #expect(fallback.warning?.contains("fixed silence") == true)
        }
        var none = DuplexConfiguration()
        none.turn.model = "none"
        none.turn.modelPath = "/nonexistent"
        #expect(try SpeechServices.loadEndOfTurnModel(none).model == nil)
        var installed = DuplexConfiguration()
        installed.turn.modelPath = TestAssets.smartTurn
        #expect(try SpeechServices.loadEndOfTurnModel(installed).model != nil)
    }

    @Test func aMissingDenoiserLibraryIsATypedErrorNamingTheKey() throws {
        var input = InputSection()
        input.denoise = "rnnoise"
        input.denoiseDir = "/nonexistent"
        #expect { try SpeechServices.checkedInput(input) } throws: { error in
            (error as? DuplexError)?.code == .modelLoadFailed && "\(error)".contains("input.denoise")
        }
    }

    /// Cut points inside clauses of `two_cities.wav` (seconds; the words either side as
    /// Whisper hears them). Chosen by one rule: the words before the cut cannot end a clause
    /// (they end on an article, a preposition, an auxiliary, a subject pronoun or quantifier,
    /// or an adjective before its noun), at a quiet 10 ms frame inside continuous speech.
    static let midClauseCuts: [(clip: String, at: Double, text: String)] = [
        ("two_cities", 1.51, "it was | the best of times"),
        ("two_cities", 5.27, "it was the | age of wisdom"),
        ("two_cities", 7.07, "it | was the age of foolishness"),
        ("two_cities", 9.18, "it was the | epoch of belief"),
        ("two_cities", 12.34, "it was the epoch of | incredulity"),
        ("two_cities", 13.81, "it was the | season of light"),
        ("two_cities", 15.41, "it was | the season of darkness"),
        ("two_cities", 17.93, "it was the | spring of hope"),
        ("two_cities", 19.49, "it was the winter | of despair"),
        ("two_cities", 21.53, "we had | everything before us"),
        ("two_cities", 22.28, "we had everything before | us"),
        ("two_cities", 22.92, "we had | nothing before us"),
        ("two_cities", 23.6, "we had nothing before | us"),
        ("two_cities", 24.79, "we were all | going direct to heaven"),
        ("two_cities", 27.88, "direct the other | way"),
        ("two_cities", 30.65, "in short, the period was | so far like"),
        ("two_cities", 33.95, "some of its noisiest | authorities"),
        ("two_cities", 35.93, "insisted on its being | received"),
        ("two_cities", 37.84, "for good or | for evil"),
        ("two_cities", 38.81, "for good or for evil, in | the superlative degree"),
    ]
}
