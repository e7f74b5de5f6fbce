import DuplexCore
import DuplexEngine
import DuplexDSP
import DuplexOrchestrator
import DuplexSherpa
import DuplexTesting
import DuplexWorker
import Foundation
import Testing

@Suite(.serialized) struct SpeechInputTests {
    static let services = Result { () throws(DuplexError) in
        SpeechServices(
            vadModel: TestAssets.sileroVAD, vadParameters: .preset(aggressiveness: 2), recognizer: try SpeechModels.whisper.get())
    }

    /// Piper speech at `rate`, as s16le bytes, with leading and trailing silence.
    static func question(_ text: String, rate: Int, leadingMs: Int = 1000, speed: Double = 1) async throws -> Data {
        let voice = try await SpeechModels.piper.load(try SpeechModels.joeDescriptor())
        let audio = try await voice.synthesize(text, options: try VoiceOptions(parsing: ["speed": "\(speed)"]))
        let resampler = try Resampler(from: voice.sampleRate, to: rate)
        let speech = resampler.process(audio) + resampler.flush()
        let silence = [Float](repeating: 0, count: rate)
        let lead = [Float](repeating: 0, count: rate * leadingMs / 1000)
        let samples = SampleConversion.int16(from: lead + speech + silence + silence)
        return samples.withUnsafeBytes { Data($0) }
    }

    /// The first 10 ms block of s16le audio louder than -40 dBFS.
    static func onsetMs(_ pcm: Data, rate: Int) -> Int {
        let samples = pcm.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        let block = rate / 100
        for start in stride(from: 0, to: samples.count - block, by: block) {
            let energy = samples[start..<start + block].reduce(0.0) { $0 + Double($1) * Double($1) } / Double(block)
            if energy.squareRoot() / 32768 > 0.01 { return start * 1000 / rate }
        }
        return -1
    }

    @Test(arguments: [16_000, 48_000])
    func microphoneStreamGivesSpeechEventsAndATranscript(rate: Int) async throws {
        let pcm = try await Self.question("What time does the library open tomorrow?", rate: rate)
        let input = try SpeechInput(inputSampleRate: rate, services: try Self.services.get(), burstAllowance: .seconds(3600))
        var events: [SpeechInput.Event] = []
        // Odd chunk sizes, as a browser might send them.
        var offset = 0
        var chunk = 1_537
        while offset < pcm.count {
            let end = min(pcm.count, offset + chunk)
            events += try await input.accept(pcm.subdata(in: offset..<end))
            offset = end
            chunk = chunk == 1_537 ? 2_048 : 1_537
        }
        events += try await input.finish()
        let edges = events.compactMap { event -> Int? in if case .bargeInEdge(let atMs, _) = event { atMs } else { nil } }
        events.removeAll { if case .bargeInEdge = $0 { true } else if case .bargeInEdgeEnded = $0 { true } else { false } }
        print("speech input @\(rate): \(events.count) events, barge-in edges at \(edges) ms")
        guard case .speechStarted(let startMs) = events.first else {
            Issue.record("first event is not speechStarted: \(events)")
            return
        }
        #expect(abs(startMs - 1000) < 200)
        // The barge-in detector reacts well before the turn VAD's minimum speech (250 ms).
        let onsetMs = Self.onsetMs(pcm, rate: rate)
        let firstEdge = try #require(edges.first)
        print("speech onset (energy) \(onsetMs) ms, barge-in edge \(firstEdge) ms, turn VAD start \(startMs) ms")
        // (Piper's onsets vary run to run; a soft "wh-" takes Silero up to ~200 ms.)
        #expect(firstEdge >= onsetMs && firstEdge < onsetMs + 300, "edge at \(firstEdge) ms for speech at \(onsetMs) ms")
        var transcripts: [String] = []
        for event in events {
            if case .speechEnded(let endMs, let fromMs, let audio) = event {
                #expect(abs(fromMs - startMs) < 100 && endMs > fromMs + 1000)
                if let heard = try await input.transcribe(audio) { transcripts.append(heard.text) }
            }
        }
        #expect(transcripts.count == 1)
        // A pause is reported (and transcribed speculatively) before the turn ends.
        let paused = events.compactMap { event -> [Float]? in if case .speechPaused(_, let audio) = event { audio } else { nil } }
        let lastPause = try #require(paused.last, "no speechPaused before the end of the turn")
        let speculative = try await input.transcribe(lastPause)?.text ?? ""
        #expect(wordErrorRate(reference: "What time does the library open tomorrow?", hypothesis: speculative) <= 0.3)
        let wer = wordErrorRate(reference: "What time does the library open tomorrow?", hypothesis: transcripts.first ?? "")
        #expect(wer <= 0.3)  // seven words: up to two slips (Piper varies run to run)
    }

    @Test func silenceAndNoiseGiveNoTranscriptAndFloodsAreRefused() async throws {
        let input = try SpeechInput(inputSampleRate: 16_000, services: try Self.services.get(), burstAllowance: .seconds(3600))
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<32_000).map { _ in Int16.random(in: -800...800, using: &generator) }
        var events = try await input.accept(noise.withUnsafeBytes { Data($0) })
        events += try await input.finish()
        for event in events {
            if case .speechEnded(_, _, let audio) = event { #expect(try await input.transcribe(audio) == nil) }
        }

        let flooded = try SpeechInput(inputSampleRate: 16_000, services: try Self.services.get())
        let tenSeconds = Data(count: 16_000 * 2 * 10)
        await #expect(throws: DuplexError.self) { _ = try await flooded.accept(tenSeconds) }
        #expect(throws: DuplexError.self) { _ = try SpeechInput(inputSampleRate: 11_025, services: try Self.services.get()) }
    }

    @Test func whisperSilenceHallucinationsAreFiltered() {
        #expect(TranscriptFilter.clean(" [BLANK_AUDIO] ") == "")
        #expect(TranscriptFilter.clean("Thank you.") == "")
        #expect(TranscriptFilter.clean("(music)") == "")
        #expect(TranscriptFilter.clean(" Turn left here. ") == "Turn left here.")
    }
}
