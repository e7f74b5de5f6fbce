// swift-tools-version: 6.2
import PackageDescription

// The sherpa-onnx runtime is installed by scripts/setup.sh into a project-local folder.
// SwiftPM rejects `-Wl,-rpath` coming from a pkg-config file, so the library folder is
// passed in through DUPLEX_SHERPA_LIB and turned into an rpath here (see docs/OPERATIONS.md).
let sherpaLibDir = Context.environment["DUPLEX_SHERPA_LIB"] ?? ""
let sherpaLinkerSettings: [LinkerSetting] =
    sherpaLibDir.isEmpty ? [] : [.unsafeFlags(["-Xlinker", "-rpath", "-Xlinker", sherpaLibDir])]

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "duplex",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "duplex", targets: ["duplex"]),
    ],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // MARK: C library wrappers
        .systemLibrary(
            name: "CSoxr", path: "Sources/CSoxr", pkgConfig: "soxr",
            providers: [.apt(["libsoxr-dev"])]),
        .systemLibrary(
            name: "CSherpaOnnx", path: "Sources/CSherpaOnnx", pkgConfig: "sherpa-onnx"),
        .systemLibrary(
            name: "CSpeexDSP", path: "Sources/CSpeexDSP", pkgConfig: "speexdsp",
            providers: [.apt(["libspeexdsp-dev"])]),
        // onnxruntime's C API, declared by hand (the library comes with sherpa-onnx).
        .systemLibrary(
            name: "CONNXRuntime", path: "Sources/CONNXRuntime", pkgConfig: "sherpa-onnx"),
        // Audio codecs (the OpenAI-compatible audio API: streaming encoders, upload decoding).
        .systemLibrary(
            name: "COpus", path: "Sources/COpus", pkgConfig: "opus",
            providers: [.apt(["libopus-dev"])]),
        .systemLibrary(
            name: "COgg", path: "Sources/COgg", pkgConfig: "ogg",
            providers: [.apt(["libogg-dev"])]),
        // libmp3lame ships no pkg-config file; the module map links it by name.
        .systemLibrary(
            name: "CLame", path: "Sources/CLame",
            providers: [.apt(["libmp3lame-dev"])]),
        .systemLibrary(
            name: "CFLAC", path: "Sources/CFLAC", pkgConfig: "flac",
            providers: [.apt(["libflac-dev"])]),
        .systemLibrary(
            name: "CSndfile", path: "Sources/CSndfile", pkgConfig: "sndfile",
            providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(
            name: "CEspeakNG", path: "Sources/CEspeakNG", pkgConfig: "espeak-ng",
            providers: [.apt(["libespeak-ng-dev"])]),

        // MARK: Core and DSP
        .target(
            name: "DuplexCore",
            swiftSettings: swiftSettings),
        .target(
            name: "DuplexDSP",
            dependencies: ["DuplexCore", "CSoxr"],
            swiftSettings: swiftSettings),
        .target(
            name: "DuplexEspeak",
            dependencies: ["DuplexCore", "CEspeakNG"],
            swiftSettings: swiftSettings),

        .target(
            name: "DuplexSherpa",
            dependencies: ["DuplexCore", "CSherpaOnnx"],
            swiftSettings: swiftSettings,
            linkerSettings: sherpaLinkerSettings),

        // MARK: Worker ABI (generated code, see Protos/ and scripts/gen-protos.sh)
        // End-of-turn model (Smart Turn through onnxruntime) and its features.
        .target(
            name: "DuplexTurn",
            dependencies: ["DuplexCore", "CONNXRuntime"],
            // Optimized in debug builds too: its feature extraction runs on every pause of
            // every conversation (~5 ms optimized, ~170 ms unoptimized).
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"])],
            linkerSettings: sherpaLinkerSettings),

        // Streaming audio encoders (wav, pcm, Ogg Opus, mp3, FLAC) and upload decoding.
        .target(
            name: "DuplexCodecs",
            dependencies: ["DuplexCore", "DuplexDSP", "COpus", "COgg", "CLame", "CFLAC", "CSndfile"],
            swiftSettings: swiftSettings),

        // Microphone filters: noise suppression (DeepFilterNet, RNNoise; loaded at run time)
        // and echo cancellation (SpeexDSP).
        .target(
            name: "DuplexAudioFilters",
            dependencies: ["DuplexCore", "DuplexDSP", "CSpeexDSP"],
            swiftSettings: swiftSettings),

        .target(
            name: "DuplexProto",
            dependencies: [
                "DuplexCore",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]),

        // MARK: Redis (worker registry)
        .target(
            name: "DuplexRedis",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Worker registry and routing (scale-out)
        .target(
            name: "DuplexRegistry",
            dependencies: [
                "DuplexRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),

        // MARK: LLM responder (OpenAI-compatible streaming chat completions)
        .target(
            name: "DuplexLLM",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Configuration
        .target(
            name: "DuplexConfig",
            dependencies: [
                "DuplexCore",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Security (API keys, access tokens, origin policy; no networking)
        .target(
            name: "DuplexSecurity",
            dependencies: [
                "DuplexCore", "DuplexConfig",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Worker
        .target(
            name: "DuplexWorker",
            dependencies: [
                "DuplexCore", "DuplexDSP", "DuplexEspeak", "DuplexProto", "DuplexConfig", "DuplexSherpa",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Conversation engine (transport-independent session logic; never Hummingbird)
        .target(
            name: "DuplexEngine",
            dependencies: [
                "DuplexCore", "DuplexDSP", "DuplexProto", "DuplexConfig", "DuplexSherpa", "DuplexLLM", "DuplexRegistry", "DuplexTurn", "DuplexAudioFilters",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Worker conformance kit (`duplex conformance`, adapter test suites)
        .target(
            name: "DuplexConformance",
            dependencies: [
                "DuplexCore", "DuplexProto", "DuplexEngine",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Orchestrator (HTTP, the WebSocket adapter, registry services)
        .target(
            name: "DuplexOrchestrator",
            dependencies: [
                "DuplexCore", "DuplexDSP", "DuplexProto", "DuplexConfig", "DuplexEngine", "DuplexRegistry", "DuplexCodecs", "DuplexSecurity",
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Wyoming (Home Assistant's local voice protocol, its own TCP port)
        .target(
            name: "DuplexWyoming",
            dependencies: [
                "DuplexCore", "DuplexDSP", "DuplexConfig", "DuplexEngine", "DuplexProto", "DuplexSherpa",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Clients (WebSocket client used by the CLI, the benchmark and tests)
        .target(
            name: "DuplexClient",
            dependencies: [
                "DuplexCore", "DuplexDSP",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        // MARK: Executable
        .executableTarget(
            name: "duplex",
            dependencies: [
                "DuplexCore", "DuplexDSP", "DuplexConfig", "DuplexWorker", "DuplexOrchestrator", "DuplexEngine", "DuplexConformance",
                "DuplexClient", "DuplexProto", "DuplexSherpa", "DuplexEspeak", "DuplexRegistry", "DuplexRedis", "DuplexWyoming", "DuplexSecurity",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings,
            linkerSettings: sherpaLinkerSettings),

        // MARK: Testing kit and tests
        .target(
            name: "DuplexTesting",
            dependencies: [
                "DuplexCore", "DuplexDSP", "DuplexWorker", "DuplexOrchestrator", "DuplexEngine", "DuplexConformance", "DuplexClient",
                "DuplexProto", "DuplexConfig", "DuplexLLM", "DuplexRedis", "DuplexRegistry", "DuplexSecurity",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "DuplexCoreTests",
            dependencies: ["DuplexCore", "DuplexDSP", "DuplexConfig", "DuplexTesting"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "DuplexWorkerTests",
            dependencies: ["DuplexWorker", "DuplexTesting", "DuplexEspeak", "DuplexCore", "DuplexDSP", "DuplexConformance", "DuplexConfig", "DuplexEngine"],
            swiftSettings: swiftSettings,
            linkerSettings: sherpaLinkerSettings),
        .testTarget(
            name: "DuplexSpeechTests",
            dependencies: [
                "DuplexSherpa", "DuplexWorker", "DuplexTesting", "DuplexCore", "DuplexDSP", "DuplexClient", "DuplexConfig",
                "DuplexOrchestrator", "DuplexEngine", "DuplexConformance", "DuplexProto", "DuplexLLM", "DuplexRegistry", "DuplexCodecs", "DuplexWyoming",
                "DuplexSecurity",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings,
            linkerSettings: sherpaLinkerSettings),
        .testTarget(
            name: "DuplexTurnTests",
            dependencies: ["DuplexTurn", "DuplexCore", "DuplexDSP", "DuplexTesting"],
            exclude: ["Reference"],
            swiftSettings: swiftSettings,
            linkerSettings: sherpaLinkerSettings),
        .testTarget(
            name: "DuplexCodecsTests",
            dependencies: ["DuplexCodecs", "DuplexCore", "DuplexDSP", "COpus", "COgg", "CSndfile"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "DuplexSecurityTests",
            dependencies: ["DuplexSecurity", "DuplexCore", "DuplexConfig"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "DuplexWyomingTests",
            dependencies: ["DuplexWyoming", "DuplexCore", "DuplexConfig"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "DuplexAudioFiltersTests",
            dependencies: ["DuplexAudioFilters", "DuplexCore", "DuplexDSP"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "DuplexRedisTests",
            dependencies: [
                "DuplexRedis", "DuplexTesting",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "DuplexRegistryTests",
            dependencies: [
                "DuplexRegistry", "DuplexRedis", "DuplexTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "DuplexLLMTests",
            dependencies: [
                "DuplexLLM", "DuplexTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "DuplexEngineTests",
            dependencies: [
                "DuplexEngine", "DuplexTesting", "DuplexCore", "DuplexConfig", "DuplexProto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "DuplexIntegrationTests",
            dependencies: [
                "DuplexOrchestrator", "DuplexEngine", "DuplexWorker", "DuplexClient", "DuplexTesting", "DuplexConfig", "DuplexCore", "DuplexRegistry",
                "DuplexRedis", "DuplexConformance", "DuplexCodecs", "DuplexSecurity", "DuplexProto",
            ],
            swiftSettings: swiftSettings,
            linkerSettings: sherpaLinkerSettings),
    ]
)
