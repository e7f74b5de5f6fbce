import Foundation

/// Paths of the models and clips `scripts/setup.sh` installs, for tests.
public enum TestAssets {
    /// The repository root (derived from this file's location).
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }  // Sources/DuplexTesting/TestAssets.swift
        return url.path
    }()

    /// `.deps` (or `$DUPLEX_DEPS`).
    public static var deps: String { ProcessInfo.processInfo.environment["DUPLEX_DEPS"] ?? "\(repositoryRoot)/.deps" }
    /// The installed voice packs.
    public static var voicepacks: String { "\(repositoryRoot)/voicepacks" }
    /// The Piper joe voice pack folder.
    public static var piperJoe: String { "\(voicepacks)/piper/piper-en-us-joe" }
    /// The Silero VAD model.
    public static var sileroVAD: String { "\(deps)/models/silero_vad.onnx" }
    /// The Whisper tiny.en model folder.
    public static var whisperTinyEn: String { "\(deps)/models/whisper-tiny.en" }
    /// The Smart Turn v3.2 end-of-turn model.
    public static var smartTurn: String { "\(deps)/models/smart-turn/smart-turn-v3.2-cpu.onnx" }
    /// The Python interpreter of the project's venv (numpy, onnxruntime).
    public static var python: String { "\(deps)/venv/bin/python" }
    /// Recorded human speech (16 kHz WAV files).
    public static func clip(_ name: String) -> String { "\(deps)/testdata/\(name).wav" }
}

/// Word error rate between a reference and a hypothesis, after lower-casing and removing
/// punctuation: (substitutions + deletions + insertions) / reference words.
public func wordErrorRate(reference: String, hypothesis: String) -> Double {
    func words(_ text: String) -> [String] {
        var cleaned = ""
        for character in text.lowercased() {
            cleaned.append(character.isLetter || character.isNumber || character == "'" ? character : " ")
        }
        return cleaned.split(separator: " ").map(String.init)
    }
    let ref = words(reference), hyp = words(hypothesis)
    guard !ref.isEmpty else { return hyp.isEmpty ? 0 : 1 }
    var previous = Array(0...hyp.count)
    for i in 1...ref.count {
        var current = [i] + Array(repeating: 0, count: hyp.count)
        for j in stride(from: 1, through: hyp.count, by: 1) {
            let cost = ref[i - 1] == hyp[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        }
        previous = current
    }
    return Double(previous[hyp.count]) / Double(ref.count)
}

/// A clock whose sleeps return at once: runs a paced pipeline as fast as it can compute.
public struct ImmediateClock: Clock, Sendable {
    private let base = ContinuousClock()

    /// Creates the clock.
    public init() {}

    public var now: ContinuousClock.Instant { base.now }
    public var minimumResolution: Duration { base.minimumResolution }

    public func sleep(until deadline: ContinuousClock.Instant, tolerance: Duration?) async throws {
        try Task.checkCancellation()
    }
}
