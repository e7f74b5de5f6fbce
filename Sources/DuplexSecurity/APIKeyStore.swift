import Crypto
import DuplexCore
import Foundation

/// The configured API keys, held only as SHA-256 digests.
///
/// A presented key is hashed and compared with every stored digest in constant time (no
/// early exit on the first differing byte or the first match), so the time taken says
/// nothing about how close a guess was or which key matched.
///
/// ```swift
/// let store = try APIKeyStore(keys: ["sha256:9f86d08…", "a-plain-key"])
/// store.match("a-plain-key")  // KeyIdentity(id: "key-…")
/// ```
public struct APIKeyStore: Sendable {
    private let digests: [[UInt8]]
    private let identities: [KeyIdentity]

    /// Loads keys given as `sha256:<64 hex digits>` or as the key itself.
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) for a malformed hash, naming
    ///   `security.api_keys` (never the key).
    public init(keys: [String]) throws(DuplexError) {
        var digests: [[UInt8]] = []
        for (index, key) in keys.enumerated() {
            let digest: [UInt8]
            if key.hasPrefix(Self.hashPrefix) {
                guard let bytes = Self.bytes(hex: String(key.dropFirst(Self.hashPrefix.count))), bytes.count == 32 else {
                    throw DuplexError(
                        .invalidConfiguration,
                        "security.api_keys entry \(index + 1) starts with 'sha256:' but is not 64 hex digits; `duplex security hash-key KEY` prints the right form.")
                }
                digest = bytes
            } else {
                guard key.utf8.count >= 16 else {
                    throw DuplexError(
                        .invalidConfiguration,
                        "security.api_keys entry \(index + 1) is shorter than 16 characters; use `duplex security new-key` for a strong one.")
                }
                digest = Array(SHA256.hash(data: Data(key.utf8)))
            }
            if !digests.contains(digest) { digests.append(digest) }
        }
        self.digests = digests
        self.identities = digests.map { KeyIdentity(digest: $0) }
    }

    /// Whether no key is configured (authentication off).
    public var isEmpty: Bool { digests.isEmpty }

    /// How many distinct keys are configured.
    public var count: Int { digests.count }

    /// The identity of the key `presented` is, if it is one of the configured keys.
    public func match(_ presented: String) -> KeyIdentity? {
        let digest = Array(SHA256.hash(data: Data(presented.utf8)))
        var found = -1
        for (index, stored) in digests.enumerated() {
            // Every byte of every key is compared whatever the result so far.
            var difference: UInt8 = 0
            for i in 0..<32 { difference |= stored[i] ^ digest[i] }
            if difference == 0 { found = index }
        }
        return found >= 0 ? identities[found] : nil
    }

    /// `sha256:<hex>` of a key: the form to store in a configuration file.
    public static func hash(_ key: String) -> String {
        hashPrefix + SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A new random key (32 bytes, URL-safe base64, prefixed `dpx_`).
    public static func generateKey() -> String {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        return "dpx_" + bytes.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static let hashPrefix = "sha256:"

    private static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Which configured key a client used: the first 8 hex digits of its SHA-256, safe to log
/// and to use as a metrics label (never the key).
public struct KeyIdentity: Sendable, Hashable, CustomStringConvertible {
    /// `key-<8 hex digits>`.
    public let id: String

    init(digest: [UInt8]) {
        id = "key-" + digest.prefix(4).map { String(format: "%02x", $0) }.joined()
    }

    /// An identity with a given id (tokens carry it in their subject).
    public init(id: String) {
        self.id = id
    }

    public var description: String { id }
}
