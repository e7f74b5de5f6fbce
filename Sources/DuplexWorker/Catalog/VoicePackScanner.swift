import DuplexCore
import Foundation
import Yams

/// Discovers voice packs on disk: `<root>/<family>/<model_id>/metadata.yaml` plus the
/// model files it names.
///
/// A broken pack never stops the scan: it is reported in ``ScanResult/problems`` with a
/// message saying what to fix, and left out of the catalog.
public enum VoicePackScanner {
    /// What a scan found.
    public struct ScanResult: Sendable {
        /// Valid packs.
        public var packs: [ModelDescriptor] = []
        /// Packs that were rejected, with the reason.
        public var problems: [DuplexError] = []
    }

    /// Scans `root`. A missing root folder is an empty result, not an error.
    public static func scan(root: String, adapters: [String: any TTSAdapter]) -> ScanResult {
        var result = ScanResult()
        let fm = FileManager.default
        guard let families = try? fm.contentsOfDirectory(atPath: root) else { return result }
        for family in families.sorted() where isDirectory("\(root)/\(family)") {
            let packs = (try? fm.contentsOfDirectory(atPath: "\(root)/\(family)")) ?? []
            for folder in packs.sorted() where isDirectory("\(root)/\(family)/\(folder)") {
                let path = "\(root)/\(family)/\(folder)"
                do {
                    let pack: ModelDescriptor
                    if !FileManager.default.fileExists(atPath: "\(path)/metadata.yaml"),
                        let described = try adapters[family]?.describe(folder: path, family: family, name: folder)
                    {
                        var withFingerprint = described
                        withFingerprint.metadata["fingerprint"] = fingerprint(paths: described.files.values.sorted())
                        pack = withFingerprint
                    } else {
                        pack = try loadPack(at: path, family: family, folder: folder)
                    }
                    guard let adapter = adapters[pack.family] else {
                        throw DuplexError(.invalidVoicePack,
                            "Voice pack \(path): family '\(pack.family)' is not enabled (enabled: \(adapters.keys.sorted().joined(separator: ", "))).")
                    }
                    try adapter.validate(pack)
                    if result.packs.contains(where: { $0.modelID == pack.modelID }) {
                        throw DuplexError(.invalidVoicePack, "Voice pack \(path): model_id '\(pack.modelID)' is used by another pack.")
                    }
                    result.packs.append(pack)
                } catch let error as DuplexError {
                    result.problems.append(error)
                } catch {
                    result.problems.append(DuplexError(.invalidVoicePack, "Voice pack \(path): \(error)", cause: error))
                }
            }
        }
        return result
    }

    /// Reads and checks one pack folder.
    public static func loadPack(at path: String, family: String, folder: String) throws(DuplexError) -> ModelDescriptor {
        let metadataPath = "\(path)/metadata.yaml"
        guard let text = try? String(contentsOfFile: metadataPath, encoding: .utf8) else {
            throw DuplexError(.invalidVoicePack, "Voice pack \(path) has no readable metadata.yaml.")
        }
        let parsed: Any?
        do {
            parsed = try Yams.load(yaml: text)
        } catch {
            throw DuplexError(.invalidVoicePack, "Voice pack \(path): metadata.yaml is not valid YAML (\(error)).", cause: error)
        }
        guard let map = parsed as? [String: Any] else {
            throw DuplexError(.invalidVoicePack, "Voice pack \(path): metadata.yaml must be a map of keys.")
        }
        func string(_ key: String) -> String? {
            guard let v = map[key] else { return nil }
            return "\(v)"
        }
        func list(_ key: String) -> [String] {
            if let items = map[key] as? [Any] { return items.map { "\($0)".lowercased() } }
            if let item = map[key] as? String { return [item.lowercased()] }
            return []
        }
        guard let declaredFamily = string("family"), !declaredFamily.isEmpty else {
            throw DuplexError(.invalidVoicePack, "Voice pack \(path): metadata.yaml needs `family:` (e.g. piper).")
        }
        guard declaredFamily == family else {
            throw DuplexError(.invalidVoicePack,
                "Voice pack \(path): family '\(declaredFamily)' does not match its folder '\(family)'; move it to voicepacks/\(declaredFamily)/.")
        }
        let modelID = string("model_id") ?? folder
        guard modelID.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }), !modelID.isEmpty else {
            throw DuplexError(.invalidVoicePack, "Voice pack \(path): model_id '\(modelID)' may only use letters, digits, '-', '_' and '.'.")
        }
        let languages = list("languages")
        guard !languages.isEmpty else {
            throw DuplexError(.invalidVoicePack, "Voice pack \(path): metadata.yaml needs `languages:` (e.g. [en-us]).")
        }
        guard let rateText = string("sample_rate"), let rate = Int(rateText), (8000...192_000).contains(rate) else {
            throw DuplexError(.invalidVoicePack, "Voice pack \(path): `sample_rate:` must be an integer from 8000 to 192000.")
        }
        var files: [String: String] = [:]
        if let declared = map["files"] as? [String: Any] {
            for (name, value) in declared {
                let file = "\(path)/\(value)"
                guard FileManager.default.fileExists(atPath: file) else {
                    throw DuplexError(.invalidVoicePack, "Voice pack \(path): file '\(value)' (files.\(name)) is missing.")
                }
                files[name] = file
            }
        } else if map["files"] != nil, !(map["files"] is NSNull) {
            throw DuplexError(.invalidVoicePack, "Voice pack \(path): `files:` must be a map such as {model: voice.onnx}.")
        }
        var metadata: [String: String] = [:]
        for (key, value) in map where !["family", "model_id", "display_name", "languages", "sample_rate", "tags", "files"].contains(key) {
            metadata[key] = "\(value)"
        }
        metadata["fingerprint"] = fingerprint(paths: [metadataPath] + files.values.sorted())
        return ModelDescriptor(
            modelID: modelID, family: family, displayName: string("display_name"), languages: languages,
            sampleRate: rate, tags: Set(list("tags")), directory: path, files: files, metadata: metadata)
    }

    /// A cheap change detector: sizes and modification times of the pack's files.
    static func fingerprint(paths: [String]) -> String {
        paths.map { path in
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(size)@\(Int64(modified * 1000))"
        }.joined(separator: ",")
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }
}
