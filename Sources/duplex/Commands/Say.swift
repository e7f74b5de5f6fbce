import ArgumentParser
import DuplexClient
import DuplexCore
import DuplexDSP
import Foundation
import Logging

struct Say: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Speak text through a running server: write a 48 kHz WAV, or raw s16le PCM to stdout.")

    @Argument(help: "The text to speak.")
    var text: String

    @Option(help: "Output WAV file; omit to write raw PCM (s16le, 48 kHz, mono) to stdout.")
    var out: String?

    @Option(help: "Server WebSocket URL.")
    var url = "ws://127.0.0.1:8080/ws"

    @Option(help: "Model to use (default: the server's default).")
    var model: String?

    @Option(help: "Speaking-rate multiplier (0.5–2.0).")
    var speed: Double?

    @Flag(
        inversion: .prefixedNo,
        help: "Stream in real time. Default: paced only when writing PCM to stdout (a player); a WAV file is synthesized as fast as possible.")
    var pacing: Bool?

    func run() async throws {
        let logger = Logger(label: "duplex.say")
        let text = self.text, model = self.model, speed = self.speed
        let pacing = self.pacing ?? (out == nil)
        let started = ContinuousClock.now
        let reply = try await DuplexConnection.connect(url: url, logger: logger) { connection in
            var start: [String: any Sendable] = [:]
            if let model { start["model_id"] = model }
            if let speed { start["speed"] = speed }
            if !pacing { start["pacing"] = false }
            try await connection.startSession(start)
            return try await connection.speak(text)
        }
        for error in reply.errors { FileHandle.standardError.write(Data("error: \(error)\n".utf8)) }
        guard reply.reason == "completed", !reply.pcm.isEmpty else {
            throw ValidationError("The server did not complete the reply (reason: \(reply.reason)).")
        }
        if let out {
            try WAVFile(samples: reply.samples, sampleRate: OutputFormat.sampleRate).write(path: out)
            let latency = reply.firstAudioLatency.map { String(format: "%.1f", $0.millisecondsDouble) } ?? "-"
            let wall = started.duration(to: .now).millisecondsDouble / 1000
            print("wrote \(out): \(reply.frameSizes.count) frames, \(String(format: "%.2f", Double(reply.samples.count) / 48_000)) s, first audio \(latency) ms, \(String(format: "%.2f", wall)) s wall\(pacing ? "" : " (unpaced)")")
        } else {
            FileHandle.standardOutput.write(reply.pcm)
        }
    }
}
