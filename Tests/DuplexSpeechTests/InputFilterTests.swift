import DuplexConfig
import DuplexCore
import DuplexDSP
import DuplexEngine
import DuplexSherpa
import DuplexTesting
import Foundation
import Testing

/// The microphone filters inside a session's listener, on recorded speech with the real
/// models: noise suppression before the VAD and Whisper (`input.denoise`), and the server-side
/// echo canceller against the reply audio the server sent (`input.echo_cancel`).
@Suite(.serialized) struct InputFilterTests {
    static func services(denoise: String = "none", echoCancel: String = "none") throws -> SpeechServices {
        var input = InputSection()
        input.denoise = denoise
        input.echoCancel = echoCancel
        input.denoiseDir = "\(TestAssets.deps)/models/denoise"
        var turn = TurnSection()
        turn.partialIntervalMs = 0
        return SpeechServices(
            vadModel: TestAssets.sileroVAD, vadParameters: .preset(aggressiveness: 2), recognizer: try SpeechModels.whisper.get(),
            endOfTurnModel: try EndOfTurnTests.smartTurn.get(), turn: TurnSettings(turn), input: input)
    }

    static func clip(_ name: String, from: Double, to: Double) throws -> [Float] {
        let samples = try WAVFile.read(path: TestAssets.clip(name)).samples
        let first = Int(from * 16_000), last = min(samples.count, Int(to * 16_000))
        return SampleConversion.float(from: Array(samples[first..<last]))
    }

    /// Deterministic white noise.
    static func noise(count: Int, rms: Float, seed: UInt64) -> [Float] {
        var state = seed
        let scale: Float = rms * Float(3.0).squareRoot()
        var samples: [Float] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let unit = Float(state >> 40) / Float(1 << 24)
            samples.append((unit * 2 - 1) * scale)
        }
        return samples
    }

    static func rms(_ samples: [Float]) -> Float {
        (samples.reduce(0) { $0 + $1 * $1 } / Float(max(1, samples.count))).squareRoot()
    }

    /// Feeds 20 ms chunks of 16 kHz audio; `reply` (16 kHz, as the 48 kHz frames the server
    /// sends) is handed to the listener frame by frame, just before the microphone chunk
    /// of the same 20 ms.
    static func listen(_ microphone: [Float], reply: [Float]? = nil, services: SpeechServices) async throws -> (events: [SpeechEvent], transcripts: [String]) {
        let input = try SpeechInput(inputSampleRate: 16_000, services: services, burstAllowance: .seconds(3600), waitsForModels: true)
        var events: [SpeechEvent] = []
        for start in stride(from: 0, to: microphone.count, by: 320) {
            if let reply, start < reply.count {
                // 48 kHz frames as the server sends them (each sample three times: no filter delay).
                let frame = reply[start..<min(reply.count, start + 320)].flatMap { [$0, $0, $0] }
                input.replyAudioSent(SampleConversion.int16(from: frame).withUnsafeBytes { Data($0) })
            }
            let chunk = SampleConversion.int16(from: Array(microphone[start..<min(microphone.count, start + 320)]))
            events += try await input.accept(chunk.withUnsafeBytes { Data($0) })
        }
        events += try await input.finish()
        var transcripts: [String] = []
        for event in events {
            if case .speechEnded(_, _, let audio) = event, let heard = try await input.transcribe(audio) { transcripts.append(heard.text) }
        }
        return (events, transcripts)
    }

    static func bargeInEdges(_ events: [SpeechEvent]) -> [Int] {
        events.compactMap { if case .bargeInEdge(let atMs, _) = $0 { atMs } else { nil } }
    }

    /// A simulated room: the reply (`beckett.wav`, 10 s) comes back into the microphone
    /// `delayMs` later at −6 dB, over a little room noise. Without the canceller the reply's
    /// echo is "speech" to the barge-in detector; with it, no edge fires. With the user
    /// (`two_cities.wav`) talking over the echo, the user is still heard.
    @Test(arguments: [40, 80, 120])
    func theRepliesOwnEchoDoesNotTriggerBargeIn(delayMs: Int) async throws {
        let reply = try Self.clip("beckett", from: 0, to: 9.9)
        let delay = delayMs * 16
        var echo = [Float](repeating: 0, count: delay) + reply.map { $0 * 0.5 }
        let room = Self.noise(count: echo.count + 16_000, rms: 0.001, seed: 7)
        echo += [Float](repeating: 0, count: room.count - echo.count)
        let microphone = zip(echo, room).map { $0 + $1 }
        let without = try await Self.listen(microphone, reply: reply, services: try Self.services())
        let with = try await Self.listen(microphone, reply: reply, services: try Self.services(echoCancel: "speex"))
        print("echo \(delayMs) ms: barge-in edges without canceller \(Self.bargeInEdges(without.events).count), with \(Self.bargeInEdges(with.events).count); turns \(without.transcripts) / \(with.transcripts)")
        #expect(Self.bargeInEdges(without.events).count >= 3)
        #expect(Self.bargeInEdges(with.events).isEmpty)

        // Double talk: the user speaks from 4 s on, over the echo.
        let user = try Self.clip("two_cities", from: 1.0, to: 4.4)
        var talk = microphone
        for (index, sample) in user.enumerated() where 64_000 + index < talk.count { talk[64_000 + index] += sample }
        let overlapped = try await Self.listen(talk, reply: reply, services: try Self.services(echoCancel: "speex"))
        let edges = Self.bargeInEdges(overlapped.events)
        print("echo \(delayMs) ms + user at 4.0 s: edges \(edges), turns \(overlapped.transcripts)")
        #expect(edges.contains { $0 >= 4000 && $0 < 4600 })
        #expect(overlapped.transcripts.contains { $0.lowercased().contains("best of times") })
    }

    /// `two_cities.wav` 1–9 s after 3 s of noise only, white noise at 5 and 10 dB SNR: VAD
    /// false starts in the noise-only lead and the word error rate against what is said,
    /// without and with each denoiser. Figures printed (docs/PERFORMANCE.md).
    @Test(arguments: [5, 10])
    func denoisingKeepsTheVADAndWhisperWorkingInNoise(snr: Int) async throws {
        let speech = try Self.clip("two_cities", from: 1.0, to: 9.0)
        let reference = "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness"
        let level = Self.rms(speech) / Float(pow(10, Double(snr) / 20))
        let padded = [Float](repeating: 0, count: 48_000) + speech + [Float](repeating: 0, count: 48_000)
        let noisy = zip(padded, Self.noise(count: padded.count, rms: level, seed: UInt64(snr))).map { $0 + $1 }
        var figures: [String: (falseStarts: Int, wer: Double)] = [:]
        for kind in ["none", "rnnoise", "deepfilternet"] {
            let heard = try await Self.listen(noisy, services: try Self.services(denoise: kind))
            let falseStarts = heard.events.filter { if case .speechStarted(let atMs) = $0 { atMs < 2800 } else { false } }.count
            let wer = wordErrorRate(reference: reference, hypothesis: heard.transcripts.joined(separator: " "))
            figures[kind] = (falseStarts, wer)
            print("denoise \(kind) at \(snr) dB SNR: false starts \(falseStarts), WER \(String(format: "%.3f", wer)) — \(heard.transcripts)")
        }
        // Silero needs no help with stationary noise, and the denoisers must not make it worse;
        // their speech distortion costs Whisper words (measured 0.13–0.29 WER at these SNRs).
        for kind in ["rnnoise", "deepfilternet"] {
            let figure = try #require(figures[kind])
            #expect(figure.falseStarts == 0, "\(kind)")
            #expect(figure.wer <= 0.35, "\(kind)")
        }
    }
}
