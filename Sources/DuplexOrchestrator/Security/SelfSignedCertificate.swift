import Crypto
import DuplexCore
import Foundation
import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#endif

/// A self-signed certificate for LAN demos (`--tls self-signed`): P-256, valid a year, for
/// `localhost`, the host's name and every address of its interfaces, so a browser on
/// another machine can reach the page over HTTPS (and use its microphone) after accepting
/// the certificate once. Cached in a folder and made anew when it is missing, expires within
/// 30 days, or does not cover an address the host has now.
public enum SelfSignedCertificate {
    /// The certificate and key files, creating them when needed.
    /// - Returns: the paths of `cert.pem` and `key.pem` in `directory`.
    /// - Throws: ``DuplexError`` (`io`) when the folder cannot be written.
    public static func ensure(in directory: String, now: Date = Date()) throws(DuplexError) -> (certificate: String, key: String, created: Bool) {
        let certificatePath = directory + "/cert.pem"
        let keyPath = directory + "/key.pem"
        let names = hostNames()
        if let existing = try? String(contentsOfFile: certificatePath, encoding: .utf8),
            FileManager.default.fileExists(atPath: keyPath),
            let certificate = try? Certificate(pemEncoded: existing),
            certificate.notValidAfter > now.addingTimeInterval(30 * 86_400),
            covers(certificate, names)
        {
            return (certificatePath, keyPath, false)
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let (certificate, key) = try make(names: names, now: now)
            try Data(key.utf8).write(to: URL(fileURLWithPath: keyPath), options: .atomic)
            chmod(keyPath, 0o600)
            try Data(certificate.utf8).write(to: URL(fileURLWithPath: certificatePath), options: .atomic)
        } catch {
            throw DuplexError(.io, "Cannot create the self-signed certificate in '\(directory)' (server.tls_dir): \(error)", cause: error)
        }
        return (certificatePath, keyPath, true)
    }

    /// The names a certificate should cover: DNS names and IP addresses.
    public struct Names: Sendable, Equatable {
        /// DNS names (`localhost`, the host name).
        public var dns: [String]
        /// IPv4 (4 bytes) and IPv6 (16 bytes) addresses.
        public var addresses: [[UInt8]]
    }

    /// `localhost`, the host name and every interface address.
    public static func hostNames() -> Names {
        var dns = ["localhost"]
        var buffer = [CChar](repeating: 0, count: 256)
        if gethostname(&buffer, buffer.count) == 0 {
            let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !name.isEmpty, !dns.contains(name) { dns.append(name) }
        }
        var addresses: [[UInt8]] = [[127, 0, 0, 1], [UInt8](repeating: 0, count: 15) + [1]]
        var list: UnsafeMutablePointer<ifaddrs>?
        if getifaddrs(&list) == 0, let first = list {
            var cursor: UnsafeMutablePointer<ifaddrs>? = first
            while let entry = cursor {
                if let address = entry.pointee.ifa_addr {
                    var bytes: [UInt8]?
                    switch Int32(address.pointee.sa_family) {
                    case AF_INET:
                        bytes = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                            withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
                        }
                    case AF_INET6:
                        bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                            withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                        }
                    default: break
                    }
                    // Link-local IPv6 (fe80::/10) needs a zone id in URLs; browsers skip it.
                    if let bytes, !(bytes.count == 16 && bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80), !addresses.contains(bytes) {
                        addresses.append(bytes)
                    }
                }
                cursor = entry.pointee.ifa_next
            }
            freeifaddrs(first)
        }
        return Names(dns: dns, addresses: addresses)
    }

    static func covers(_ certificate: Certificate, _ names: Names) -> Bool {
        guard let alternatives = try? certificate.extensions.subjectAlternativeNames else { return false }
        var dns = Set<String>()
        var addresses = Set<[UInt8]>()
        for name in alternatives {
            switch name {
            case .dnsName(let value): dns.insert(value)
            case .ipAddress(let value): addresses.insert(Array(value.bytes))
            default: break
            }
        }
        return names.dns.allSatisfy(dns.contains) && names.addresses.allSatisfy(addresses.contains)
    }

    /// A new certificate and key, PEM.
    static func make(names: Names, now: Date) throws -> (certificate: String, key: String) {
        let privateKey = P256.Signing.PrivateKey()
        let key = Certificate.PrivateKey(privateKey)
        let subject = try DistinguishedName {
            OrganizationName("Duplex")
            CommonName("Duplex self-signed (\(names.dns.last ?? "localhost"))")
        }
        let alternatives = names.dns.map { GeneralName.dnsName($0) }
            + names.addresses.map { GeneralName.ipAddress(ASN1OctetString(contentBytes: ArraySlice($0))) }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames(alternatives)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(365 * 86_400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: key)
        return (try certificate.serializeAsPEM().pemString, privateKey.pemRepresentation)
    }
}
