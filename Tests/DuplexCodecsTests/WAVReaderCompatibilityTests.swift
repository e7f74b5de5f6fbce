import DuplexCodecs
import DuplexCore
import Foundation
import Testing

@Suite("Streamed WAV (sizes 0xFFFFFFFF) in other readers")
struct WAVReaderCompatibilityTests {
    /// A Python interpreter, when one is installed (the project's venv first).
    static let python: String? = {
        let candidates = [
            ProcessInfo.processInfo.environment["DUPLEX_DEPS"].map { "\($0)/venv/bin/python" },
            "/work/main/.deps/venv/bin/python", "/usr/bin/python3", "/usr/local/bin/python3",
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    @Test("The header declares unknown sizes, and libsndfile reads every frame")
    func libsndfile() throws {
        let input = TestSignal.tones(seconds: 0.3, sampleRate: 24_000)
        let file = try TestSignal.encodeFile(input, format: .wav, sampleRate: 24_000)
        #expect(Array(file[4..<8]) == [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(Array(file[40..<44]) == [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(try AudioFileDecoder.decode(file).samples.count == input.count)
    }

    @Test("Python's wave module reads every frame", .enabled(if: python != nil))
    func pythonWave() throws {
        let input = TestSignal.tones(seconds: 0.3, sampleRate: 24_000)
        let file = try TestSignal.encodeFile(input, format: .wav, sampleRate: 24_000)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("duplex-stream-\(UUID()).wav")
        try file.write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Self.python))
        process.arguments = [
            "-c",
            "import sys, wave; w = wave.open(sys.argv[1]); print(w.getframerate(), len(w.readframes(1 << 30)) // 2)",
            path.path,
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0)
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == "24000 \(input.count)")
    }
}
