import DuplexCore
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The certificate chain and key the HTTPS/WSS port presents, re-read from their PEM files
/// on ``reload()`` (SIGHUP) without restarting the listener: each new TLS handshake picks the
/// current pair through NIOSSL's context callback, and connections already open keep theirs,
/// so live sessions are not dropped.
public final class TLSCertificates: Sendable {
    struct Material: Sendable {
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
    }

    /// The certificate chain file (PEM).
    public let certificatePath: String
    /// The private key file (PEM).
    public let keyPath: String
    private let current: Mutex<Material>

    /// Reads the pair.
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) naming `server.tls_cert` or
    ///   `server.tls_key` when a file is missing or not PEM.
    public init(certificatePath: String, keyPath: String) throws(DuplexError) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        current = Mutex(try Self.read(certificatePath: certificatePath, keyPath: keyPath))
    }

    /// Re-reads the files; on failure the pair in use stays and the error says why.
    public func reload() throws(DuplexError) {
        let material = try Self.read(certificatePath: certificatePath, keyPath: keyPath)
        current.withLock { $0 = material }
    }

    /// The server TLS configuration (TLS 1.2+, ALPN http/1.1) presenting the current pair.
    public func serverConfiguration() -> TLSConfiguration {
        let material = current.withLock { $0 }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: material.chain.map { .certificate($0) }, privateKey: .privateKey(material.key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        configuration.sslContextCallback = { [self] _, promise in
            let material = current.withLock { $0 }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = material.chain.map { .certificate($0) }
            override.privateKey = .privateKey(material.key)
            promise.succeed(override)
        }
        return configuration
    }

    static func read(certificatePath: String, keyPath: String) throws(DuplexError) -> Material {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw DuplexError(.invalidConfiguration, "server.tls_cert '\(certificatePath)' is not a readable PEM certificate chain: \(error)", cause: error)
        }
        guard !chain.isEmpty else {
            throw DuplexError(.invalidConfiguration, "server.tls_cert '\(certificatePath)' holds no certificate.")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw DuplexError(.invalidConfiguration, "server.tls_key '\(keyPath)' is not a readable PEM private key: \(error)", cause: error)
        }
        return Material(chain: chain, key: key)
    }
}

/// Reloads the TLS certificate on SIGHUP (for certificate renewal: replace the files, then
/// `kill -HUP`). A failed reload is logged and the previous certificate stays in use.
public struct TLSReloadService: Service {
    let certificates: TLSCertificates
    let logger: Logger

    /// Creates the service.
    public init(certificates: TLSCertificates, logger: Logger) {
        self.certificates = certificates
        self.logger = logger
    }

    public func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                try certificates.reload()
                logger.notice("TLS certificate reloaded", metadata: ["tls.cert": "\(certificates.certificatePath)"])
            } catch {
                logger.error("TLS certificate reload failed; the previous certificate stays in use", metadata: ["error.message": "\(error.message)"])
            }
        }
    }
}
