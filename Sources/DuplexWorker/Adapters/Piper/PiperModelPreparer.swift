import DuplexCore
import DuplexSherpa
import Foundation

/// Prepares a Piper voice for sherpa-onnx without touching the user's files.
///
/// sherpa-onnx needs metadata inside the `.onnx` file and a `tokens.txt`; a Piper voice has
/// neither. The preparer writes a copy of the model with the metadata appended, plus the
/// tokens, into `<cache>/piper/<content hash>/`. The folder is keyed by a hash of the model
/// and its config, so an edited or replaced voice gets a fresh copy, and a second load (or a
/// second process) reuses the first one. Writing goes to a temporary folder that is renamed
/// into place, so a crash never leaves a half-prepared model behind.
public struct PiperModelPreparer: Sendable {
    /// The cache root (e.g. `~/.cache/duplex`).
    public let cacheDirectory: String

    /// Creates a preparer.
    public init(cacheDirectory: String) {
        self.cacheDirectory = cacheDirectory
    }

    /// Files sherpa-onnx loads.
    public struct Prepared: Sendable, Hashable {
        /// The model copy with metadata.
        public var model: String
        /// The tokens file.
        public var tokens: String
        /// Whether this call wrote the files (false when the cache already had them).
        public var created: Bool
    }

    /// Prepares (or finds) the sherpa-ready copy of a voice. Blocking: run off the event loop.
    /// - Throws: ``DuplexError`` (`invalidVoicePack` for a broken model, `io` when the cache is
    ///   not writable).
    public func prepare(model: String, config: PiperVoiceConfig, configPath: String) throws(DuplexError) -> Prepared {
        let modelData: Data
        let configData: Data
        do {
            modelData = try Data(contentsOf: URL(fileURLWithPath: model), options: .alwaysMapped)
            configData = try Data(contentsOf: URL(fileURLWithPath: configPath))
        } catch {
            throw DuplexError(.invalidVoicePack, "Cannot read Piper voice '\(model)': \(error.localizedDescription)", cause: error)
        }
        let key = String(ContentHash.of(modelData, configData), radix: 16)
        let folder = "\(cacheDirectory)/piper/\(key)"
        let prepared = Prepared(model: "\(folder)/model.onnx", tokens: "\(folder)/tokens.txt", created: false)
        let fm = FileManager.default
        if fm.fileExists(atPath: "\(folder)/ready") { return prepared }

        let existing = try OnnxMetadata.entries(in: modelData)
        let missing = config.sherpaMetadata().filter { existing[$0.key] == nil }
        let staging = "\(cacheDirectory)/piper/.staging-\(key)-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
            defer { try? fm.removeItem(atPath: staging) }
            var bytes = modelData
            bytes.append(contentsOf: OnnxMetadata.encode(missing))
            try bytes.write(to: URL(fileURLWithPath: "\(staging)/model.onnx"))
            try Data(config.tokensFile().utf8).write(to: URL(fileURLWithPath: "\(staging)/tokens.txt"))
            try Data("prepared from \(model)\n".utf8).write(to: URL(fileURLWithPath: "\(staging)/ready"))
            if !fm.fileExists(atPath: folder) {
                do {
                    try fm.moveItem(atPath: staging, toPath: folder)
                } catch where fm.fileExists(atPath: "\(folder)/ready") {
                    // Another process prepared the same voice at the same time.
                }
            }
        } catch {
            throw DuplexError(
                .io, "Cannot write the prepared Piper voice to '\(folder)' (set worker.cache_dir to a writable folder).",
                cause: error)
        }
        guard fm.fileExists(atPath: "\(folder)/ready") else {
            throw DuplexError(.io, "The prepared Piper voice folder '\(folder)' is incomplete; delete it and retry.")
        }
        return Prepared(model: prepared.model, tokens: prepared.tokens, created: true)
    }
}

/// A fast 64-bit content hash (not cryptographic): 8-byte words through a multiply-xorshift mix.
enum ContentHash {
    static func of(_ parts: Data...) -> UInt64 {
        var hash: UInt64 = 0x9E37_79B9_7F4A_7C15
        for part in parts {
            hash = mix(hash ^ UInt64(part.count))
            part.withUnsafeBytes { raw in
                let words = raw.count / 8
                var index = 0
                var lane: UInt64 = hash
                while index < words {
                    lane = (lane ^ raw.loadUnaligned(fromByteOffset: index &* 8, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
                    lane ^= lane >> 29
                    index &+= 1
                }
                for offset in (words * 8)..<raw.count {
                    lane = (lane ^ UInt64(raw[offset])) &* 0x0000_0100_0000_01B3
                }
                hash = mix(lane)
            }
        }
        return hash
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
