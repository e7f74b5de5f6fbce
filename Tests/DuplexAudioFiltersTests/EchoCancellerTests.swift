import DuplexAudioFilters
import DuplexCore
import DuplexDSP
import Foundation
import Testing

@Suite struct EchoCancellerTests {
    static let rate = 16_000
    static let frame = 320

    /// A simulated room: the reply (far end) comes back into the microphone `delay` later,
    /// 6 dB down, over a little background noise (40 dB below the echo); `user` is added
    /// on top from `userStart`.
    struct Room {
        let far: [Float]
        let echo: [Float]
        let user: [Float]
        var microphone: [Float] { (0..<far.count).map { echo[$0] + user[$0] + noise[$0] } }
        private let noise: [Float]

        init(far: [Float], delayMilliseconds: Int, user: [Float] = [], userStart: Int = 0) {
            self.far = far
            let delay = delayMilliseconds * EchoCancellerTests.rate / 1000
            echo = TestAudio.delayed(far, by: delay).map { $0 * 0.5 }
            var placed = [Float](repeating: 0, count: far.count)
            for (index, sample) in user.enumerated() where userStart + index < far.count {
                placed[userStart + index] = sample
            }
            self.user = placed
            noise = TestAudio.whiteNoise(
                count: far.count, rms: TestAudio.rms(echo[...]) / 100, seed: UInt64(delayMilliseconds))
        }
    }

    /// Plays the far end and captures the microphone in 20 ms steps, as the session does;
    /// returns the output aligned with the input (latency removed).
    private func run(_ canceller: EchoCanceller, far: [Float]?, microphone: [Float], chunk: Int = frame) -> [Float] {
        var output: [Float] = []
        var start = 0
        while start < microphone.count {
            let end = min(microphone.count, start + chunk)
            if let far, start < far.count { canceller.playback(Array(far[start..<min(end, far.count)])) }
            output += canceller.capture(Array(microphone[start..<end]))
            start = end
        }
        #expect(output.count == microphone.count)
        return Array(output[canceller.latency...]) + [Float](repeating: 0, count: canceller.latency)
    }

    private static func reply() throws -> [Float] {
        Array(try TestAudio.clip("two_cities").prefix(20 * rate))
    }

    @Test(arguments: [40, 80, 120])
    func echoAloneIsRemoved(delayMilliseconds: Int) throws {
        let room = Room(far: try Self.reply(), delayMilliseconds: delayMilliseconds)
        let canceller = try EchoCanceller()
        var output: [Float] = []
        let elapsed = ContinuousClock().measure {
            output = run(canceller, far: room.far, microphone: room.microphone)
        }
        let perFrame = (Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15)
            / (Double(room.far.count) / Double(Self.frame))
        // After five seconds of convergence.
        let converged = (5 * Self.rate)..<(room.far.count - Self.rate)
        let erle = TestAudio.decibels(TestAudio.energy(room.echo[converged]) / TestAudio.energy(output[converged]))
        var perSecond: [String] = []
        for second in 0..<(room.far.count / Self.rate - 1) {
            let range = (second * Self.rate)..<((second + 1) * Self.rate)
            let ratio = TestAudio.energy(room.echo[range]) / max(1e-12, TestAudio.energy(output[range]))
            perSecond.append(String(format: "%.0f", TestAudio.decibels(ratio)))
        }
        print(
            "echo delay \(delayMilliseconds) ms: ERLE after convergence "
                + String(format: "%.1f dB", erle) + " (per second: \(perSecond.joined(separator: " "))), "
                + String(format: "%.3f ms per 20 ms frame", perFrame))
        #expect(erle >= 15)
    }

    @Test(arguments: [40, 80, 120])
    func userSpeechSurvivesDoubleTalk(delayMilliseconds: Int) throws {
        let user = try TestAudio.clip("beckett")
        let room = Room(far: try Self.reply(), delayMilliseconds: delayMilliseconds, user: user, userStart: 8 * Self.rate)
        let canceller = try EchoCanceller()
        let output = run(canceller, far: room.far, microphone: room.microphone)
        let talk = (8 * Self.rate)..<min(room.far.count, 8 * Self.rate + user.count)
        // The canceller's DC notch shifts the phase below ~200 Hz; compare with the user's
        // speech through the same filter.
        let userHeard = TestAudio.speexDCNotch(room.user)
        let withUser = TestAudio.correlation(output[talk], userHeard[talk])
        let withEcho = TestAudio.correlation(output[talk], room.echo[talk])
        let micWithUser = TestAudio.correlation(room.microphone[talk], room.user[talk])
        let micWithEcho = TestAudio.correlation(room.microphone[talk], room.echo[talk])
        let kept = TestAudio.energy(output[talk]) / TestAudio.energy(room.user[talk])
        // The least-squares gain of the user's speech in the output.
        var cross = 0.0
        for index in talk { cross += Double(output[index]) * Double(userHeard[index]) }
        let userGain = cross / TestAudio.energy(userHeard[talk])
        print(
            "double talk, echo delay \(delayMilliseconds) ms: correlation with user "
                + String(format: "%.3f (mic %.3f), with echo %.3f (mic %.3f); ", withUser, micWithUser, withEcho, micWithEcho)
                + String(format: "output/user energy %.0f%%, user gain %.2f", kept * 100, userGain))
        #expect(withUser > 0.7)
        #expect(withEcho < 0.3)
        #expect(userGain * userGain >= 0.5)
    }

    @Test(arguments: [EchoCancellerTests.frame, 256, 1, 1_000])
    func withoutPlaybackSpeechPassesUnchanged(chunk: Int) throws {
        let speech = try TestAudio.clip("beckett")
        let canceller = try EchoCanceller()
        let output = run(canceller, far: nil, microphone: speech, chunk: chunk)
        let range = 0..<(speech.count - canceller.latency)
        // Unchanged but for SpeexDSP's DC notch.
        let similarity = TestAudio.correlation(output[range], TestAudio.speexDCNotch(speech)[range])
        let gain = TestAudio.decibels(TestAudio.energy(output[range]) / TestAudio.energy(speech[range]))
        print("no playback, chunk \(chunk): correlation \(String(format: "%.4f", similarity)), gain \(String(format: "%.2f", gain)) dB")
        #expect(similarity > 0.999)
        #expect(abs(gain) < 1)
    }

    @Test func latencyIsWhereTheSpeechIs() throws {
        let speech = try TestAudio.clip("beckett")
        let canceller = try EchoCanceller()
        let output = TestAudio.stream(speech, chunks: [320]) { canceller.capture($0) }
        let lag = TestAudio.bestLag(
            output: output, input: speech, range: 16_000..<(speech.count - 16_000), lags: 0...700)
        print("echo canceller: best alignment at \(lag) samples, reported latency \(canceller.latency)")
        #expect(lag == canceller.latency)
    }

    @Test func speechAfterTheReplyEndedPassesUnchanged() throws {
        // Ten seconds of reply (echo only), one of silence, then the user alone.
        let user = try TestAudio.clip("beckett")
        let replyLength = 10 * Self.rate
        let far = Array(try Self.reply().prefix(replyLength)) + [Float](repeating: 0, count: Self.rate + user.count)
        let room = Room(far: far, delayMilliseconds: 80, user: user, userStart: replyLength + Self.rate)
        let canceller = try EchoCanceller()
        let output = run(canceller, far: Array(far.prefix(replyLength)) + [], microphone: room.microphone)
        #expect(canceller.queuedPlayback == 0)
        let talk = (replyLength + Self.rate)..<(far.count - canceller.latency)
        let similarity = TestAudio.correlation(output[talk], TestAudio.speexDCNotch(room.user)[talk])
        let gain = TestAudio.decibels(TestAudio.energy(output[talk]) / TestAudio.energy(room.user[talk]))
        print("user after the reply: correlation \(String(format: "%.4f", similarity)), gain \(String(format: "%.2f", gain)) dB")
        #expect(similarity > 0.98)
        #expect(abs(gain) < 1)
    }

    @Test func playbackIsQueuedBoundedAndCanBeStopped() throws {
        let canceller = try EchoCanceller(configuration: .init(playbackLimit: .seconds(1)))
        canceller.playback([Float](repeating: 0.1, count: 1_000))
        #expect(canceller.queuedPlayback == 1_000)
        _ = canceller.capture([Float](repeating: 0, count: Self.frame))
        #expect(canceller.queuedPlayback == 1_000 - Self.frame)
        canceller.playback([Float](repeating: 0.1, count: 20_000))
        #expect(canceller.queuedPlayback == Self.rate)
        #expect(canceller.droppedPlayback == 1_000 - Self.frame + 20_000 - Self.rate)
        canceller.stopPlayback()
        #expect(canceller.queuedPlayback == 0)
    }

    @Test func outOfRangeSettingsAreTypedErrors() {
        #expect(throws: DuplexError.self) { try EchoCanceller(configuration: .init(tail: .milliseconds(5))) }
        #expect(throws: DuplexError.self) { try EchoCanceller(configuration: .init(tail: .seconds(3))) }
        let error = #expect(throws: DuplexError.self) { try EchoCanceller(configuration: .init(playbackLimit: .seconds(-1))) }
        #expect(error?.code == .invalidConfiguration)
    }
}

@Suite struct EchoGateTests {
    @Test func echoQuieterThanTheReplyIsAttenuatedAndLouderSpeechPasses() {
        var gate = EchoGate()
        let reply = (0..<320).map { Float(sin(Double($0) * 0.3)) * 0.4 }
        gate.reference(reply)
        var echo = reply.map { $0 * 0.4 }
        #expect(gate.apply(to: &echo))
        #expect(LoudnessMeter.rms(echo) < 0.02)
        var user = reply.map { $0 * 1.2 }
        #expect(!gate.apply(to: &user))
        #expect(user == reply.map { $0 * 1.2 })
    }

    @Test func withoutAReplyNothingIsGated() {
        var gate = EchoGate()
        gate.reference([])
        var quiet = [Float](repeating: 0.01, count: 320)
        #expect(!gate.apply(to: &quiet))
        // The reply's level is remembered for ~160 ms (its echo arrives late), then forgotten.
        gate.reference([Float](repeating: 0.3, count: 320))
        for _ in 0..<8 { gate.reference([]) }
        #expect(!gate.apply(to: &quiet))
    }
}
