import ArgumentParser
import DuplexClient
import DuplexCore
import DuplexDSP
import Foundation
import Logging

struct Talk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk to a running server in conversation mode: stream a WAV as the microphone, record the reply.",
        discussion: """
            The WAV (any rate, mono or the first channel) is sent at real-time pace like a live
            microphone, followed by silence until the replies have finished. --barge-in-at injects
            another WAV at that time (seconds from the start) to interrupt the reply. Events are
            printed (and written as JSON lines with --events); the reply audio goes to --out
            (48 kHz WAV). There is no live sound-device mode yet: record with `arecord -f S16_LE
            -r 16000 -c 1 q.wav` and play the reply with `aplay reply.wav`.
            """)

    @Option(name: .customLong("in"), help: "The question, a WAV file.")
    var input: String

    @Option(help: "Write the reply audio here (48 kHz WAV).")
    var out: String?

    @Option(help: "Inject --interrupt at this many seconds after the start.")
    var bargeInAt: Double?

    @Option(help: "The interruption, a WAV file (with --barge-in-at).")
    var interrupt: String?

    @Option(help: "Write every event as a JSON line here.")
    var events: String?

    @Option(help: "Server WebSocket URL.")
    var url = "ws://127.0.0.1:8080/ws"

    @Option(help: "Model to use (default: the server's default).")
    var model: String?

    @Option(help: "Give up after this many seconds.")
    var timeout = 120.0

    func validate() throws {
        if (bargeInAt == nil) != (interrupt == nil) { throw ValidationError("--barge-in-at and --interrupt go together.") }
    }

    func run() async throws {
        let question = try Self.load(input)
        let interruption = try interrupt.map(Self.load)
        let bargeInAt = self.bargeInAt, model = self.model, timeout = self.timeout
        let log = Locked<[String]>([])
        let pcm = Locked(Data())
        let started = ContinuousClock.now
        try await DuplexConnection.connect(url: url, logger: Logger(label: "duplex.talk")) { connection in
            var options: [String: any Sendable] = ["mode": "conversation", "input_sample_rate": SimulatedMicrophone.sampleRate, "partial_transcripts": true]
            if let model { options["model_id"] = model }
            try await connection.startSession(options)
            let microphone = SimulatedMicrophone()
            microphone.play(question)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await microphone.run(on: connection) }
                if let interruption, let bargeInAt {
                    group.addTask {
                        try await Task.sleep(until: started + .milliseconds(Int(bargeInAt * 1000)), clock: .continuous)
                        microphone.play(interruption)
                    }
                }
                var playing = 0
                var userSpeaking = false
                var lastActivity = ContinuousClock.now
                var idleSince: ContinuousClock.Instant?
                var interruptionQueued = interruption == nil
                while ContinuousClock.now < started + .milliseconds(Int(timeout * 1000)) {
                    let poll = try await connection.poll(timeout: .milliseconds(250))
                    let now = ContinuousClock.now
                    if let bargeInAt, now >= started + .milliseconds(Int(bargeInAt * 1000)) { interruptionQueued = true }
                    if case .closed = poll { break }
                    if case .message(let message) = poll {
                        lastActivity = now
                        if let frame = message.binary {
                            pcm.withLock { $0.append(frame) }
                            continue
                        }
                        guard let json = message.json, let type = json["type"] as? String else { continue }
                        let ms = Int(started.duration(to: now).millisecondsDouble)
                        var line = json
                        line["t_ms"] = json["t_ms"] ?? ms
                        line["client_ms"] = ms
                        if let data = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) {
                            let text = String(decoding: data, as: UTF8.self)
                            log.withLock { $0.append(text) }
                            print(String(format: "%7.2f s  ", Double(ms) / 1000) + Self.describe(type: type, json))
                        }
                        if type == "tts_start" { playing += 1 }
                        if type == "tts_end" { playing -= 1 }
                        if type == "vad" { userSpeaking = json["state"] as? String == "speech_start" }
                    }
                    // Done: everything was said (and the last turn had time to end and be
                    // answered), nothing plays, and the server has been quiet for 2 s.
                    if microphone.isIdle, interruptionQueued { idleSince = idleSince ?? now } else { idleSince = nil }
                    if let idleSince, idleSince.duration(to: now) > .seconds(3), !userSpeaking, playing <= 0,
                        lastActivity.duration(to: now) > .seconds(2)
                    {
                        break
                    }
                }
                group.cancelAll()
            }
        }
        if let events {
            try log.value.joined(separator: "\n").appending("\n").write(toFile: events, atomically: true, encoding: .utf8)
        }
        let audio = pcm.value
        if let out {
            let samples = audio.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
            try WAVFile(samples: samples, sampleRate: OutputFormat.sampleRate).write(path: out)
            print("wrote \(out): \(String(format: "%.2f", Double(samples.count) / Double(OutputFormat.sampleRate))) s of reply audio")
        }
    }

    static func load(_ path: String) throws -> [Int16] {
        let wav = try WAVFile.read(path: path)
        return try SimulatedMicrophone.resample(wav.samples, from: wav.sampleRate)
    }

    static func describe(type: String, _ json: [String: Any]) -> String {
        switch type {
        case "vad" where json["state"] as? String == "turn_probe":
            "end of turn? \(percent(json["probability"])) after \(json["silence_ms"] ?? "?") ms of silence → \(json["complete"] as? Bool == true ? "done" : "keep listening")"
        case "vad" where json["end_of_turn"] is [String: Any]:
            "vad speech_end at \(json["t_ms"] ?? "?") ms — turn ended: \(describeEndOfTurn(json["end_of_turn"]))"
        case "vad": "vad \(json["state"] ?? "") at \(json["t_ms"] ?? "?") ms"
        case "transcript" where json["final"] as? Bool == false: "you (so far): \(json["text"] ?? "")…"
        case "transcript": "you: \(json["text"] ?? "")  (ASR \(json["asr_ms"] ?? "?") ms)"
        case "reply" where json["final"] as? Bool == true: "reply: \(json["text"] ?? "")"
        case "reply": "reply…"
        case "turn_metrics": "speech-to-speech \(json["speech_to_speech_ms"] ?? "?") ms"
        case "barge_in": "barge-in: heard \(json["heard_ms"] ?? "?") ms ('\(json["heard_text"] ?? "")'), edge → silence \(json["latency_ms"] ?? "?") ms"
        case "error": "error \(json["code"] ?? ""): \(json["message"] ?? "")"
        default: type
        }
    }

    static func percent(_ value: Any?) -> String {
        guard let value = value as? Double else { return "?" }
        return "\(Int((value * 100).rounded()))%"
    }

    static func describeEndOfTurn(_ value: Any?) -> String {
        guard let eot = value as? [String: Any] else { return "?" }
        let probability = eot["probability"].map { ", model \(percent($0))" } ?? ""
        return "\(eot["reason"] ?? "?") after \(eot["silence_ms"] ?? "?") ms of silence\(probability)"
    }
}
