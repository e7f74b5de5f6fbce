import DuplexCore

/// `wyoming:` — the Wyoming protocol server (Home Assistant's local voice protocol) on its
/// own TCP port, speaking and transcribing through the same engine and workers as the
/// WebSocket. Off unless enabled (docs/WYOMING.md).
public struct WyomingSection: Sendable, Hashable {
    /// Run the Wyoming server with `duplex serve`. Default false.
    public var enabled = false
    /// Address to bind. Default `127.0.0.1` (as `server.host`; `0.0.0.0` lets Home Assistant
    /// on another machine connect).
    public var host = "127.0.0.1"
    /// TCP port (0 picks a free port). Default 10200 (the port Wyoming services use).
    public var port = 10200
    /// Largest `data_length` or `payload_length` of one event, in bytes. Default 1 MiB.
    public var maxEventBytes = 1 << 20
    /// Most seconds of audio one `transcribe` buffers; later audio is dropped with an
    /// `error`. Default 300.
    public var maxAudioSeconds = 300
    /// Most concurrent connections. Default 64.
    public var maxConnections = 64

    /// The defaults.
    public init() {}

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "enabled": enabled = try f.bool()
        case "host": host = try f.nonEmpty()
        case "port": port = try f.int(0...65535)
        case "max_event_bytes": maxEventBytes = try f.int(1024...(64 << 20))
        case "max_audio_seconds": maxAudioSeconds = try f.int(1...3600)
        case "max_connections": maxConnections = try f.int(1...10_000)
        default: throw f.unknownKey()
        }
    }
}
