import DuplexCore
import Foundation
import Yams

/// Builds a ``DuplexConfiguration`` from three layers, later ones winning:
/// a YAML file, `DUPLEX_SECTION_KEY` environment variables, and explicit overrides
/// (command-line flags). Any invalid value fails with a message naming the key.
///
/// ```swift
/// let config = try ConfigurationLoader.load(
///     file: "configs/duplex.yaml", environment: ProcessInfo.processInfo.environment,
///     overrides: [("server", "port", "9000")])
/// ```
public enum ConfigurationLoader {
    /// Loads the configuration. A nil `file` uses `configs/duplex.yaml` if it exists.
    public static func load(
        file: String?, environment: [String: String], overrides: [(section: String, key: String, value: String)] = []
    ) throws(DuplexError) -> DuplexConfiguration {
        var config = DuplexConfiguration()
        let path = file ?? (FileManager.default.fileExists(atPath: "configs/duplex.yaml") ? "configs/duplex.yaml" : nil)
        if let path {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw DuplexError(.invalidConfiguration, "Cannot read configuration file '\(path)': \(error.localizedDescription)", cause: error)
            }
            try apply(yaml: text, source: path, to: &config)
        }
        try apply(environment: environment, to: &config)
        for o in overrides {
            try config.set(section: o.section, key: o.key, value: o.value)
        }
        return config
    }

    /// Applies a YAML document of `section: {key: value}` maps.
    public static func apply(yaml text: String, source: String, to config: inout DuplexConfiguration) throws(DuplexError) {
        let root: Any?
        do {
            root = try Yams.load(yaml: text)
        } catch {
            throw DuplexError(.invalidConfiguration, "Configuration file '\(source)' is not valid YAML: \(error)", cause: error)
        }
        guard let root else { return }
        guard let sections = root as? [String: Any] else {
            throw DuplexError(.invalidConfiguration, "Configuration file '\(source)' must be a map of sections.")
        }
        for (section, body) in sections.sorted(by: { $0.key < $1.key }) {
            guard let keys = body as? [String: Any] else {
                if body is NSNull { continue }
                throw DuplexError(.invalidConfiguration, "Section '\(section)' in '\(source)' must be a map of keys.")
            }
            for (key, value) in keys.sorted(by: { $0.key < $1.key }) {
                try config.set(section: section, key: key, value: stringValue(value))
            }
        }
    }

    /// Applies `DUPLEX_<SECTION>_<KEY>` variables, e.g. `DUPLEX_SERVER_PORT=9000`.
    public static func apply(environment: [String: String], to config: inout DuplexConfiguration) throws(DuplexError) {
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("DUPLEX_") {
            let rest = name.dropFirst("DUPLEX_".count).lowercased()
            guard let section = DuplexConfiguration.sections.first(where: { rest.hasPrefix($0 + "_") }) else { continue }
            let key = String(rest.dropFirst(section.count + 1))
            try config.set(section: section, key: key, value: value)
        }
    }

    private static func stringValue(_ value: Any) -> String {
        switch value {
        case let list as [Any]: return list.map(stringValue).joined(separator: ",")
        // A map value (e.g. `openai.voice_map`) becomes `key=value` pairs.
        case let map as [String: Any]: return map.sorted { $0.key < $1.key }.map { "\($0.key)=\(stringValue($0.value))" }.joined(separator: ",")
        case is NSNull: return ""
        default: return "\(value)"
        }
    }
}
