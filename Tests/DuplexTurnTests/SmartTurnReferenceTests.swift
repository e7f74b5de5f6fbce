import DuplexCore
import DuplexDSP
import DuplexTesting
import DuplexTurn
import Foundation
import Testing

/// Duplex's Smart Turn (Swift features, onnxruntime through the hand-declared C API) against
/// the Python reference (the wheel's numpy features, Python onnxruntime of the same release)
/// on recorded speech.
@Suite struct SmartTurnReferenceTests {
    /// Turns cut from the project's clips: whole (complete), mid-sentence (incomplete), a
    /// short one (left-padded) and one longer than the model's 8 s window.
    static let cases: [(clip: String, seconds: Double)] = [
        ("two_cities", 3.3), ("two_cities", 1.2), ("two_cities", 99), ("beckett", 99), ("beckett", 4.1),
    ]

    @Test(arguments: cases)
    func featuresAndProbabilityMatchPython(clip: String, seconds: Double) throws {
        let wav = try WAVFile.read(path: TestAssets.clip(clip))
        let end = min(wav.samples.count, Int(seconds * 16_000))
        let audio = SampleConversion.float(from: Array(wav.samples[..<end]))
        let features = SmartTurnModel.features(of: audio)
        let reference = try PythonReference.run(audio, features: features)

        #expect(features.count == reference.features.count)
        var worst: Float = 0
        for (ours, theirs) in zip(features, reference.features) { worst = max(worst, abs(ours - theirs)) }
        print("smart turn \(clip)@\(seconds)s: features max |Δ| = \(worst)")
        #expect(worst <= 1e-3)

        // The model call, on identical input (Duplex's features) in both runtimes.
        let model = try SmartTurnModel(path: TestAssets.smartTurn)
        let onOurs = try model.completionProbability(features: features)
        #expect(abs(onOurs - reference.probabilityOnGivenFeatures) <= 1e-3)
        // Audio to probability, each side with its own features (printed: see the script).
        let probability = try model.completionProbability(of: audio)
        #expect(probability == onOurs)
        print("smart turn \(clip)@\(seconds)s: p = \(probability), python on our features \(reference.probabilityOnGivenFeatures), python end to end \(reference.probability)")
    }

    @Test func completeAndCutTurnsAreToldApart() throws {
        let wav = try WAVFile.read(path: TestAssets.clip("two_cities"))
        let audio = SampleConversion.float(from: wav.samples)
        let model = try SmartTurnModel(path: TestAssets.smartTurn)
        let started = ContinuousClock.now
        #expect(try model.completionProbability(of: audio) > 0.5)
        let features = ContinuousClock.now
        _ = SmartTurnModel.features(of: audio)
        print("smart turn: one call \(started.duration(to: features)), features alone \(features.duration(to: .now)) (this build)")
        #expect(try model.completionProbability(of: Array(audio[..<Int(3.3 * 16_000)])) < 0.5)
    }

    @Test func aMissingOrCorruptModelIsATypedError() throws {
        #expect { try SmartTurnModel(path: "/nonexistent/smart-turn.onnx") } throws: { error in
            (error as? DuplexError)?.code == .modelLoadFailed && "\(error)".contains("/nonexistent/smart-turn.onnx")
        }
        let corrupt = FileManager.default.temporaryDirectory.appendingPathComponent("corrupt-\(UUID()).onnx").path
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }).write(to: URL(fileURLWithPath: corrupt))
        defer { try? FileManager.default.removeItem(atPath: corrupt) }
        #expect { try SmartTurnModel(path: corrupt) } throws: { error in
            (error as? DuplexError)?.code == .modelLoadFailed
        }
        // Silero is a valid ONNX model but not Smart Turn.
        #expect { try SmartTurnModel(path: TestAssets.sileroVAD) } throws: { error in
            (error as? DuplexError)?.code == .modelLoadFailed
        }
    }
}

/// Runs Tests/DuplexTurnTests/Reference/smart_turn_reference.py in the project's venv.
enum PythonReference {
    struct Output {
        var features: [Float]
        /// The Python model on the Python features.
        var probability: Float
        /// The Python model on the features Duplex computed.
        var probabilityOnGivenFeatures: Float
    }

    static func run(_ audio: [Float], features given: [Float]) throws -> Output {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smart-turn-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("audio.f32"), output = directory.appendingPathComponent("features.f32")
        let ours = directory.appendingPathComponent("ours.f32")
        try audio.withUnsafeBytes { Data($0) }.write(to: input)
        try given.withUnsafeBytes { Data($0) }.write(to: ours)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Reference/smart_turn_reference.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestAssets.python)
        process.arguments = [script, TestAssets.smartTurn, "\(TestAssets.deps)/models/smart-turn/reference", input.path, output.path, ours.path]
        // onnxruntime 1.28 from PyPI, the release Duplex's libonnxruntime comes from: 1.28's
        // extended graph optimizations fuse the int8 MatMuls differently from later releases
        // (up to 0.05 apart near p = 0.5), so only the same release is a like-for-like reference.
        process.environment = ["PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "PYTHONPATH": "\(TestAssets.deps)/ort-reference"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let printed = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let values = String(decoding: printed, as: UTF8.self).split(whereSeparator: \.isWhitespace).compactMap { Float($0) }
        guard process.terminationStatus == 0, values.count == 2 else {
            throw DuplexError(.internal, "the Python reference failed (status \(process.terminationStatus))")
        }
        let bytes = try Data(contentsOf: output)
        let features = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return Output(features: features, probability: values[0], probabilityOnGivenFeatures: values[1])
    }
}
