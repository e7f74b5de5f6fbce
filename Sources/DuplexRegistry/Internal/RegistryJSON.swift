import Foundation

/// JSON coding of records and events, shared by the registrar and the watcher.
enum RegistryJSON {
    static func encode(_ value: some Encodable) throws(RegistryError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw RegistryError(.invalidRecord, "Could not encode \(type(of: value)) as JSON.", cause: error)
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from json: String) throws(RegistryError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(json.utf8))
        } catch {
            throw RegistryError(.invalidRecord, "Could not decode \(type) from '\(json.prefix(200))'.", cause: error)
        }
    }

    /// Now, in Unix milliseconds.
    static func nowMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}
