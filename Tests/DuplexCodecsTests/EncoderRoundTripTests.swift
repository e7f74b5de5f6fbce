import DuplexCodecs
import DuplexCore
import Foundation
import Testing

@Suite("Streaming encoders: encode, decode back with libsndfile, compare")
struct EncoderRoundTripTests {
    /// How much longer than the input a decoded file may be (codec delay and padding).
    static func allowedExtra(_ format: AudioFormat, sampleRate: Int = 24_000) -> Double {
        switch format {
        case .wav, .pcm, .flac: 0
        case .opus: 0.03
        // Encoder delay (576 + 529 samples) + last-frame padding (< 1152), no LAME tag to trim them.
        case .mp3: Double(576 + 529 + 1_152) / Double(sampleRate)
        }
    }

    @Test("2 s of 440 Hz + 1 kHz at 24 kHz survive every format", arguments: [AudioFormat.wav, .opus, .mp3, .flac])
    func roundTrip(format: AudioFormat) throws {
        let input = TestSignal.tones(seconds: 2, sampleRate: 24_000)
        let file = try TestSignal.encodeFile(input, format: format, sampleRate: 24_000)
        let decoded = try AudioFileDecoder.decode(file)

        #expect(decoded.sourceChannels == 1)
        #expect(decoded.duration >= 2 - 0.02, "\(format): decoded \(decoded.duration) s")
        #expect(decoded.duration <= 2 + Self.allowedExtra(format) + 0.02, "\(format): decoded \(decoded.duration) s")

        let middle = decoded.samples[decoded.samples.count / 4..<decoded.samples.count * 3 / 4]
        let p440 = TestSignal.power(of: 440, in: middle, sampleRate: decoded.sampleRate)
        let p1k = TestSignal.power(of: 1_000, in: middle, sampleRate: decoded.sampleRate)
        let p2500 = TestSignal.power(of: 2_500, in: middle, sampleRate: decoded.sampleRate)
        let p700 = TestSignal.power(of: 700, in: middle, sampleRate: decoded.sampleRate)
        #expect(p440 > 1_000 * p2500 && p440 > 1_000 * p700, "\(format): 440 Hz \(p440), 2.5 kHz \(p2500), 700 Hz \(p700)")
        #expect(p1k > 1_000 * p2500 && p1k > 1_000 * p700, "\(format): 1 kHz \(p1k)")
        // Each tone has amplitude 0.35: RMS of the sum is 0.35.
        let rms = TestSignal.rms(middle)
        #expect(abs(rms - 0.35) < 0.03, "\(format): RMS \(rms)")
    }

    @Test("Lossless formats give back the exact samples", arguments: [AudioFormat.wav, .flac])
    func lossless(format: AudioFormat) throws {
        let input = TestSignal.tones(seconds: 0.5, sampleRate: 24_000)
        let decoded = try AudioFileDecoder.decode(try TestSignal.encodeFile(input, format: format, sampleRate: 24_000))
        #expect(decoded.sampleRate == 24_000)
        #expect(decoded.samples == input.map { Float($0) / 32_768 })
    }

    @Test("pcm is the raw little-endian samples")
    func pcm() throws {
        let input: [Int16] = [0, 1, -1, 32_767, -32_768, 256]
        var encoder = try AudioEncoders.make(.pcm, sampleRate: 24_000)
        let bytes = try encoder.encode(input) + encoder.finish()
        #expect(bytes == [0, 0, 1, 0, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x80, 0x00, 0x01])
    }

    @Test(
        "Other sample rates keep their rate and duration",
        arguments: [AudioFormat.wav, .opus, .mp3, .flac], [48_000, 44_100, 22_050, 16_000, 8_000])
    func otherRates(format: AudioFormat, rate: Int) throws {
        let input = TestSignal.tones(seconds: 1, sampleRate: rate)
        let decoded = try AudioFileDecoder.decode(try TestSignal.encodeFile(input, format: format, sampleRate: rate))
        #expect(decoded.duration >= 1 - 0.02 && decoded.duration <= 1 + Self.allowedExtra(format, sampleRate: rate) + 0.02, "\(format) at \(rate): \(decoded.duration) s")
        if format != .opus { #expect(decoded.sampleRate == rate) }
        let middle = decoded.samples[decoded.samples.count / 4..<decoded.samples.count * 3 / 4]
        let p440 = TestSignal.power(of: 440, in: middle, sampleRate: decoded.sampleRate)
        let p700 = TestSignal.power(of: 700, in: middle, sampleRate: decoded.sampleRate)
        #expect(p440 > 1_000 * p700, "\(format) at \(rate): 440 Hz \(p440), 700 Hz \(p700)")
    }

    @Test("Streams with no audio are still valid files", arguments: [AudioFormat.wav, .opus, .flac])
    func emptyStream(format: AudioFormat) throws {
        var encoder = try AudioEncoders.make(format, sampleRate: 24_000)
        let bytes = try encoder.finish()
        #expect(!bytes.isEmpty)
        let decoded = try? AudioFileDecoder.decode(Data(bytes))
        #expect((decoded?.duration ?? 0) < 0.03)
    }

    @Test("Encoding after finish throws invalidState", arguments: AudioFormat.allCases)
    func afterFinish(format: AudioFormat) throws {
        var encoder = try AudioEncoders.make(format, sampleRate: 24_000)
        _ = try encoder.encode([1, 2, 3])
        _ = try encoder.finish()
        #expect(throws: DuplexError.self) { _ = try encoder.encode([1, 2, 3]) }
        #expect(throws: DuplexError.self) { _ = try encoder.finish() }
    }

    @Test("Unsupported sample rates are refused")
    func unsupportedRate() {
        do {
            _ = try AudioEncoders.make(.opus, sampleRate: 11_111)
            Issue.record("11111 Hz was accepted")
        } catch {
            #expect(error.code == .invalidConfiguration)
        }
    }

    @Test("Format names and content types follow OpenAI's response_format")
    func formatNames() {
        #expect(AudioFormat(rawValue: "opus")?.contentType == "audio/ogg")
        #expect(AudioFormat(rawValue: "mp3")?.contentType == "audio/mpeg")
        #expect(AudioFormat(rawValue: "aac") == nil)
        #expect(AudioFormat.supportedNames == "wav, pcm, opus, mp3, flac")
    }
}
