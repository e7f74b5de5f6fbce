import DuplexCodecs
import DuplexCore
import Foundation
import Testing

@Suite("Decoding uploads: containers, bad input, limits")
struct AudioFileDecoderTests {
    @Test("Containers are recognized from their magic bytes")
    func detection() throws {
        let tones = TestSignal.tones(seconds: 0.2, sampleRate: 24_000)
        #expect(AudioContainer.detect(try TestSignal.encodeFile(tones, format: .wav, sampleRate: 24_000)) == .wav)
        #expect(AudioContainer.detect(try TestSignal.encodeFile(tones, format: .flac, sampleRate: 24_000)) == .flac)
        #expect(AudioContainer.detect(try TestSignal.encodeFile(tones, format: .opus, sampleRate: 24_000)) == .ogg)
        #expect(AudioContainer.detect(try TestSignal.encodeFile(tones, format: .mp3, sampleRate: 24_000)) == .mp3)
        #expect(AudioContainer.detect(Array("ID3\u{04}\0\0\0\0\0\0".utf8)) == .mp3)
        #expect(AudioContainer.detect([0x1A, 0x45, 0xDF, 0xA3, 0x9F]) == .webm)
        #expect(AudioContainer.detect([0, 0, 0, 0x20] + Array("ftypM4A ".utf8)) == .mp4)
        #expect(AudioContainer.detect([0xFF, 0xF1, 0x50, 0x80]) == .adts)
        #expect(AudioContainer.detect(Array("hello".utf8)) == .unknown)
    }

    @Test("m4a and AAC are refused with a message naming the supported formats")
    func aacRefused() throws {
        for bytes in [[0, 0, 0, 0x20] + Array("ftypM4A \0\0\0\0isomM4A mp42".utf8), [0xFF, 0xF1, 0x50, 0x80, 0x2F, 0xFF, 0xFC]] {
            let error = try #require(throws: DuplexError.self) { try AudioFileDecoder.decode(Data(bytes)) }
            #expect(error.code == .invalidAudio)
            #expect(error.message.contains("AAC") && error.message.contains("flac") && error.message.contains("webm"))
        }
    }

    @Test("Empty data and garbage throw invalidAudio")
    func garbage() throws {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<4_096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let inputs: [[UInt8]] = [
            [], Array("not audio at all".utf8), random,
            Array("RIFF".utf8) + random, Array("RIFF\u{10}\0\0\0WAVE".utf8) + random,
            Array("fLaC".utf8) + random, Array("OggS".utf8) + random, Array("ID3".utf8) + random,
        ]
        for input in inputs {
            let error = try #require(throws: DuplexError.self) { try AudioFileDecoder.decode(Data(input)) }
            #expect(error.code == .invalidAudio, "\(input.prefix(8)): \(error)")
        }
    }

    @Test("Files truncated inside their headers throw invalidAudio", arguments: [AudioFormat.wav, .flac, .opus, .mp3])
    func truncatedHeaders(format: AudioFormat) throws {
        let file = try TestSignal.encodeFile(TestSignal.tones(seconds: 0.5, sampleRate: 24_000), format: format, sampleRate: 24_000)
        for cut in [3, 12, 30] {
            #expect(throws: DuplexError.self, "\(format) cut at \(cut)") { try AudioFileDecoder.decode(file.prefix(cut)) }
        }
    }

    @Test("Files cut or damaged inside their audio never crash", arguments: [AudioFormat.wav, .flac, .opus, .mp3])
    func damagedAudio(format: AudioFormat) throws {
        let file = try TestSignal.encodeFile(TestSignal.tones(seconds: 1, sampleRate: 24_000), format: format, sampleRate: 24_000)
        // Cut in half: the first half decodes (or a typed error).
        if let half = try? AudioFileDecoder.decode(file.prefix(file.count / 2)) {
            #expect(half.duration > 0.2 && half.duration < 0.8, "\(format): \(half.duration) s")
        }
        // Overwrite the middle with noise.
        var damaged = [UInt8](file)
        var generator = SystemRandomNumberGenerator()
        for i in damaged.count / 3..<damaged.count / 2 { damaged[i] = UInt8.random(in: 0...255, using: &generator) }
        do {
            let decoded = try AudioFileDecoder.decode(Data(damaged))
            #expect(decoded.duration < 1.2)
        } catch {
            #expect(error.code == .invalidAudio)
        }
    }

    @Test("Audio longer than maxSeconds throws messageTooLarge", arguments: [AudioFormat.wav, .flac, .opus, .mp3])
    func cap(format: AudioFormat) throws {
        let file = try TestSignal.encodeFile(TestSignal.tones(seconds: 2, sampleRate: 24_000), format: format, sampleRate: 24_000)
        let error = try #require(throws: DuplexError.self) { try AudioFileDecoder.decode(file, maxSeconds: 1) }
        #expect(error.code == .messageTooLarge)
        #expect(try AudioFileDecoder.decode(file, maxSeconds: 3).duration > 1.9)
    }

    @Test("Stereo files are mixed down to mono")
    func stereo() throws {
        // A 16-bit stereo WAV: left = +0.5, right = -0.25 (full-scale fractions).
        var bytes = Array("RIFF".utf8) + [0x2C, 0, 0, 0] + Array("WAVEfmt ".utf8)
        bytes += [16, 0, 0, 0, 1, 0, 2, 0, 0x80, 0x3E, 0, 0, 0, 0xFA, 0, 0, 4, 0, 16, 0]
        bytes += Array("data".utf8) + [8, 0, 0, 0]
        bytes += [0x00, 0x40, 0x00, 0xE0, 0x00, 0x40, 0x00, 0xE0]
        let decoded = try AudioFileDecoder.decode(Data(bytes))
        #expect(decoded.sourceChannels == 2 && decoded.sampleRate == 16_000)
        #expect(decoded.samples == [0.125, 0.125])
    }

    @Test("Resampling to 16 kHz for Whisper keeps duration and tone", arguments: [AudioFormat.wav, .opus, .mp3])
    func whisper(format: AudioFormat) throws {
        let file = try TestSignal.encodeFile(TestSignal.tones(seconds: 2, sampleRate: 24_000), format: format, sampleRate: 24_000)
        let decoded = try AudioFileDecoder.decode(file)
        let samples = try decoded.whisperSamples()
        #expect(abs(Double(samples.count) / 16_000 - decoded.duration) < 0.005)
        let middle = samples[samples.count / 4..<samples.count * 3 / 4]
        #expect(TestSignal.power(of: 1_000, in: middle, sampleRate: 16_000) > 1_000 * TestSignal.power(of: 700, in: middle, sampleRate: 16_000))
    }
}
