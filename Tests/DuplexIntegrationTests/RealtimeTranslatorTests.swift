import DuplexCore
@testable import DuplexEngine
@testable import DuplexOrchestrator
import Foundation
import Testing

/// The OpenAI Realtime adapter's parts without a server: client event parsing, server event
/// encoding (both dialects) and the translator with scripted engine events.
@Suite struct RealtimeTranslatorTests {
    // MARK: Parsing

    @Test func sessionUpdateInTheGAShapeReadsInstructionsVoiceAndTurnDetection() throws {
        let event = try RealtimeClientEvent.parse("""
            {"type":"session.update","event_id":"c1","session":{"type":"realtime","instructions":"Be brief.",
             "audio":{"input":{"format":{"type":"audio/pcm","rate":24000},
                               "turn_detection":{"type":"server_vad","threshold":0.6,"silence_duration_ms":400,"prefix_padding_ms":200,
                                                 "create_response":false,"interrupt_response":true}},
                      "output":{"format":{"type":"audio/pcm","rate":24000},"voice":"alloy"}}}}
            """)
        guard case .sessionUpdate(let update, let eventID) = event else {
            Issue.record("not a session.update: \(event)")
            return
        }
        #expect(eventID == "c1")
        #expect(update.instructions == "Be brief.")
        #expect(update.voice == "alloy")
        let detection = try #require(update.turnDetection ?? nil)
        #expect(detection.threshold == 0.6 && detection.silenceDurationMs == 400 && detection.prefixPaddingMs == 200)
        #expect(!detection.createResponse && detection.interruptResponse)
    }

    @Test func nullTurnDetectionMeansManualTurnsAndAbsentMeansUnchanged() throws {
        guard case .sessionUpdate(let manual, _) = try RealtimeClientEvent.parse(
            #"{"type":"session.update","session":{"audio":{"input":{"turn_detection":null}}}}"#)
        else { return }
        #expect(manual.turnDetection == .some(nil))
        guard case .sessionUpdate(let beta, _) = try RealtimeClientEvent.parse(
            #"{"type":"session.update","session":{"turn_detection":null,"input_audio_format":"pcm16","voice":"piper-en-us-joe"}}"#)
        else { return }
        #expect(beta.turnDetection == .some(nil) && beta.voice == "piper-en-us-joe")
        guard case .sessionUpdate(let unchanged, _) = try RealtimeClientEvent.parse(#"{"type":"session.update","session":{"instructions":""}}"#)
        else { return }
        #expect(unchanged.turnDetection == nil)
    }

    @Test(arguments: [
        (#"{"type":"session.update","session":{"audio":{"input":{"format":{"type":"audio/pcm","rate":16000}}}}}"#, "invalid_value", "session.audio.input.format.rate"),
        (#"{"type":"session.update","session":{"audio":{"output":{"format":{"type":"audio/pcmu"}}}}}"#, "invalid_value", "session.audio.output.format.type"),
        (#"{"type":"session.update","session":{"input_audio_format":"g711_ulaw"}}"#, "invalid_value", "session.input_audio_format"),
        (#"{"type":"session.update","session":{"audio":{"input":{"turn_detection":{"type":"server_vad","threshold":2}}}}}"#, "invalid_value", "session.audio.input.turn_detection.threshold"),
        (#"{"type":"session.update","session":{"audio":{"input":{"turn_detection":{"type":"server_vad","create_response":1}}}}}"#, "invalid_type", "session.audio.input.turn_detection.create_response"),
        (#"{"type":"input_audio_buffer.append","audio":"%%%"}"#, "invalid_value", "audio"),
        (#"{"type":"input_audio_buffer.append"}"#, "missing_required_parameter", "audio"),
        (#"{"type":"conversation.item.create","item":{"type":"function_call","role":"user","content":[]}}"#, "invalid_value", "item.type"),
        (#"{"type":"conversation.item.truncate","item_id":"x","content_index":0,"audio_end_ms":-5}"#, "invalid_value", "audio_end_ms"),
        (#"{"type":"no.such.event","event_id":"e9"}"#, "unknown_event_type", "type"),
    ])
    func badEventsAreRefusedNamingTheField(json: String, code: String, param: String) {
        #expect {
            _ = try RealtimeClientEvent.parse(json)
        } throws: { error in
            guard let error = error as? RealtimeProtocolError else { return false }
            return error.code == code && error.param == param && error.type == "invalid_request_error"
        }
    }

    @Test func malformedJSONIsRefusedAndTheEventIDIsEchoed() {
        #expect(throws: RealtimeProtocolError(code: "invalid_json", "The message is not a JSON object.")) {
            try RealtimeClientEvent.parse("{not json")
        }
        do {
            _ = try RealtimeClientEvent.parse(#"{"type":"bogus","event_id":"evt_42"}"#)
        } catch {
            #expect(error.eventID == "evt_42")
        }
    }

    // MARK: Encoding

    @Test func audioDeltasAreHalfTheEngineRateInBothDialects() throws {
        for (dialect, type) in [(RealtimeDialect.ga, "response.output_audio.delta"), (.beta, "response.audio.delta")] {
            var encoder = RealtimeEncoder(dialect: dialect, audio: try RealtimeAudioConverter())
            // 200 ms of a 440 Hz tone at 48 kHz in 20 ms frames.
            var samples24k = 0
            var peak: Int16 = 0
            for frame in 0..<10 {
                var pcm = Data()
                for index in 0..<960 {
                    let t = Double(frame * 960 + index) / 48_000
                    let value = Int16(12_000 * sin(2 * Double.pi * 440 * t))
                    withUnsafeBytes(of: value.littleEndian) { pcm.append(contentsOf: $0) }
                }
                for message in encoder.encode(.audioDelta(responseID: "r", itemID: "i", pcm: pcm)) {
                    let object = try #require(try JSONSerialization.jsonObject(with: Data(message.utf8)) as? [String: Any])
                    #expect(object["type"] as? String == type)
                    #expect(object["response_id"] as? String == "r" && object["item_id"] as? String == "i")
                    let bytes = try #require(Data(base64Encoded: object["delta"] as? String ?? ""))
                    samples24k += bytes.count / 2
                    bytes.withUnsafeBytes { raw in
                        for index in 0..<(raw.count / 2) { peak = max(peak, abs(raw.loadUnaligned(fromByteOffset: 2 * index, as: Int16.self))) }
                    }
                }
            }
            let done = encoder.encode(.audioDone(responseID: "r", itemID: "i"))
            for message in done.dropLast() {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(message.utf8)) as? [String: Any])
                samples24k += (Data(base64Encoded: object["delta"] as? String ?? "")?.count ?? 0) / 2
            }
            #expect(done.last?.contains(dialect == .ga ? "response.output_audio.done" : "response.audio.done") == true)
            #expect(abs(samples24k - 4800) <= 2, "200 ms at 24 kHz, got \(samples24k)")
            #expect(peak > 10_000 && peak < 13_000)
        }
    }

    @Test func aReplyFrameIsTranslatedAndEncodedWellWithinItsTwentyMilliseconds() throws {
        var translator = RealtimeTranslator(sessionID: "s1", model: "m", dialect: .ga)
        var encoder = RealtimeEncoder(dialect: .ga, audio: try RealtimeAudioConverter())
        let frame = Data((0..<1920).map { UInt8(truncatingIfNeeded: $0 * 7) })
        var bytes = 0
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for sequence in 1...1000 {
                for event in translator.engine(.audio(turnID: "t1", pcm: frame, sequence: sequence)) {
                    for message in encoder.encode(event) { bytes += message.utf8.count }
                }
            }
        }
        let perFrameMicroseconds = elapsed.millisecondsDouble  // 1000 frames: ms in total = µs per frame
        print("realtime: translate + resample + encode one 20 ms frame: \(perFrameMicroseconds) µs")
        #expect(bytes > 1000 * 1200)
        #expect(perFrameMicroseconds < 2000)
    }

    @Test func theBase64EncoderMatchesFoundations() {
        for count in 0..<8 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 * 37 + 200) }
            var out: [UInt8] = []
            RealtimeAudioConverter.base64(bytes, into: &out)
            #expect(String(decoding: out, as: UTF8.self) == Data(bytes).base64EncodedString())
        }
    }

    @Test func errorsAndDialectNamesHaveTheSDKsShape() throws {
        var ga = RealtimeEncoder(dialect: .ga, audio: try RealtimeAudioConverter())
        let error = try Self.object(ga.encode(.error(RealtimeProtocolError(code: "invalid_json", "Bad.", param: "x", eventID: "c7")))[0])
        #expect(error["type"] as? String == "error")
        #expect(error["event_id"] as? String == "event_1")
        let body = try #require(error["error"] as? [String: Any])
        #expect(body["type"] as? String == "invalid_request_error" && body["code"] as? String == "invalid_json")
        #expect(body["param"] as? String == "x" && body["event_id"] as? String == "c7" && body["message"] as? String == "Bad.")

        let item = RealtimeItem(id: "item_1", kind: .userAudio, status: "completed", text: nil)
        #expect(try Self.object(ga.encode(.itemAdded(item, previousItemID: nil))[0])["type"] as? String == "conversation.item.added")
        var beta = RealtimeEncoder(dialect: .beta, audio: try RealtimeAudioConverter())
        #expect(try Self.object(beta.encode(.itemAdded(item, previousItemID: nil))[0])["type"] as? String == "conversation.item.created")
        #expect(beta.encode(.itemDone(item, previousItemID: nil)).isEmpty)
        let session = try Self.object(beta.encode(.sessionCreated(RealtimeSessionState(id: "s", model: "m")))[0])
        #expect((session["session"] as? [String: Any])?["input_audio_format"] as? String == "pcm16")
        let gaSession = try Self.object(ga.encode(.sessionCreated(RealtimeSessionState(id: "s", model: "m")))[0])
        let format = ((((gaSession["session"] as? [String: Any])?["audio"] as? [String: Any])?["output"] as? [String: Any])?["format"] as? [String: Any])
        #expect(format?["type"] as? String == "audio/pcm" && format?["rate"] as? Int == 24_000)
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    // MARK: Translating

    static let frame = Data(count: 1920)

    static func names(_ events: [RealtimeServerEvent]) -> [String] {
        events.map { event in
            switch event {
            case .sessionCreated: "session.created"
            case .sessionUpdated: "session.updated"
            case .speechStarted: "speech_started"
            case .speechStopped: "speech_stopped"
            case .committed: "committed"
            case .cleared: "cleared"
            case .itemAdded: "item.added"
            case .itemDone: "item.done"
            case .itemDeleted: "item.deleted"
            case .itemTruncated: "item.truncated"
            case .transcriptionDelta: "transcription.delta"
            case .transcriptionCompleted: "transcription.completed"
            case .responseCreated: "response.created"
            case .outputItemAdded: "output_item.added"
            case .contentPartAdded: "content_part.added"
            case .audioDelta: "audio.delta"
            case .audioDone: "audio.done"
            case .transcriptDelta: "transcript.delta"
            case .transcriptDone: "transcript.done"
            case .contentPartDone: "content_part.done"
            case .outputItemDone: "output_item.done"
            case .responseDone: "response.done"
            case .error: "error"
            }
        }
    }

    static func description(_ id: String = "s1") -> SessionDescription {
        SessionDescription(sessionID: id, modelID: "m", mode: .conversation, worker: "w")
    }

    @Test func aVoiceTurnBecomesTheRealtimeEventSequence() {
        var translator = RealtimeTranslator(sessionID: "s1", model: "gpt-realtime", dialect: .ga)
        _ = translator.opening()
        #expect(Self.names(translator.engine(.sessionStarted(Self.description()))) == ["session.created"])
        let update = translator.client(.sessionUpdate(RealtimeSessionUpdate(instructions: "Hi", voice: "alloy"), eventID: nil))
        guard case .start(let options)? = update.inputs.first else {
            Issue.record("no start")
            return
        }
        #expect(options.instructions == "Hi" && options.modelID == nil)
        // The opening start's answer is absorbed; the update's is session.updated.
        #expect(translator.engine(.sessionStarted(Self.description())).isEmpty)
        #expect(Self.names(translator.engine(.sessionStarted(Self.description()))) == ["session.updated"])

        #expect(Self.names(translator.engine(.voiceActivity(.speechStart, atMs: 300, endOfTurn: nil))) == ["speech_started"])
        #expect(Self.names(translator.engine(.partialTranscript(text: "Hello"))) == ["transcription.delta"])
        #expect(translator.engine(.partialTranscript(text: "Help")).isEmpty)  // a revision is not a delta
        #expect(Self.names(translator.engine(.voiceActivity(.speechEnd, atMs: 1500, endOfTurn: nil))) == ["speech_stopped", "committed", "item.added"])
        let transcript = translator.engine(.transcript(text: "Hello there.", turnID: "t1", asrMs: 50))
        #expect(Self.names(transcript) == ["transcription.delta", "transcription.completed", "item.done"])
        if case .transcriptionCompleted(_, let text) = transcript[1] { #expect(text == "Hello there.") }

        #expect(Self.names(translator.engine(.replyText(text: "Hello ", isFinal: false, turnID: "t1")))
            == ["response.created", "output_item.added", "item.added", "content_part.added", "transcript.delta"])
        #expect(translator.engine(.replyStarted(turnID: "t1")).isEmpty)
        #expect(Self.names(translator.engine(.audio(turnID: "t1", pcm: Self.frame, sequence: 1))) == ["audio.delta"])
        #expect(Self.names(translator.engine(.audio(turnID: "t1", pcm: Self.frame, sequence: 2))) == ["audio.delta"])
        #expect(translator.engine(.replyText(text: "Hello there.", isFinal: true, turnID: "t1")).isEmpty)
        let end = translator.engine(.replyEnded(turnID: "t1", frames: 2, reason: .completed, lateFrames: 0))
        #expect(Self.names(end) == ["audio.done", "transcript.done", "content_part.done", "output_item.done", "item.done", "response.done"])
        guard case .responseDone(let response) = end.last else { return }
        #expect(response.status == "completed" && response.output.first?.text == "Hello there.")
        // Late events of a finished turn are ignored.
        #expect(translator.engine(.audio(turnID: "t1", pcm: Self.frame, sequence: 3)).isEmpty)
    }

    @Test func aBargeInCancelsTheResponseAndTruncatesItToWhatWasPlayed() {
        var translator = RealtimeTranslator(sessionID: "s1", model: "m", dialect: .ga)
        _ = translator.engine(.sessionStarted(Self.description()))
        _ = translator.client(.appendAudio(Data(count: 48_000), eventID: nil))  // 1 s
        for sequence in 1...10 { _ = translator.engine(.audio(turnID: "t1", pcm: Self.frame, sequence: sequence)) }
        let report = BargeInReport(turnID: "t1", heardMs: 160, latencyMs: 30, heardText: "Hel", fromEdge: true)
        let bargeIn = translator.engine(.bargeIn(report))
        #expect(Self.names(bargeIn) == ["speech_started"])
        if case .speechStarted(_, let startMs) = bargeIn[0] { #expect(startMs == 1000) }
        // The turn VAD's own start comes later: the same item.
        #expect(translator.engine(.voiceActivity(.speechStart, atMs: 980, endOfTurn: nil)).isEmpty)
        let end = translator.engine(.replyEnded(turnID: "t1", frames: 8, reason: .stopped, lateFrames: 0))
        #expect(Self.names(end).suffix(2) == ["response.done", "item.truncated"])
        guard case .responseDone(let response) = end[end.count - 2], case .itemTruncated(_, let audioEndMs) = end.last else { return }
        #expect(response.status == "cancelled" && response.reason == "turn_detected")
        #expect(audioEndMs == 160)
    }

    @Test func manualTurnsCommitCancelAndRefuseWhatTheProtocolRefuses() {
        var translator = RealtimeTranslator(sessionID: "s1", model: "m", dialect: .ga)
        _ = translator.engine(.sessionStarted(Self.description()))
        let manual = translator.client(.sessionUpdate(RealtimeSessionUpdate(turnDetection: .some(nil)), eventID: nil))
        guard case .start(let options)? = manual.inputs.first else { return }
        #expect(options.turnTaking == .manual)

        let empty = translator.client(.commitAudio(eventID: "c1"))
        guard case .error(let error)? = empty.events.first else {
            Issue.record("no error")
            return
        }
        #expect(error.code == "input_audio_buffer_commit_empty" && error.eventID == "c1" && empty.inputs.isEmpty)

        _ = translator.client(.appendAudio(Data(count: 4800), eventID: nil))
        let commit = translator.client(.commitAudio(eventID: nil))
        #expect(commit.inputs == [.commitTurn])
        #expect(Self.names(commit.events) == ["committed", "item.added"])
        #expect(Self.names(translator.engine(.transcript(text: "", turnID: "t1", asrMs: 0))) == ["transcription.completed", "item.done"])

        #expect(translator.client(.createResponse(eventID: nil)).inputs == [.respond(userText: nil)])
        let twice = translator.client(.createResponse(eventID: "c2"))
        #expect(twice.inputs.isEmpty && Self.names(twice.events) == ["error"])
        // An empty requested reply still has a response, completed with nothing.
        let empty2 = translator.engine(.replyText(text: "", isFinal: true, turnID: "t2"))
        #expect(Self.names(empty2).first == "response.created" && Self.names(empty2).last == "response.done")

        #expect(Self.names(translator.client(.cancelResponse(eventID: nil)).events) == ["error"])
        _ = translator.engine(.audio(turnID: "t3", pcm: Self.frame, sequence: 1))
        #expect(translator.client(.cancelResponse(eventID: nil)).inputs == [.control(.stop)])
        let end = translator.engine(.replyEnded(turnID: "t3", frames: 1, reason: .stopped, lateFrames: 0))
        guard case .responseDone(let response) = end.last else { return }
        #expect(response.status == "cancelled" && response.reason == "client_cancelled")
    }

    @Test func itemsAreCreatedDeletedAndTruncatedByID() {
        var translator = RealtimeTranslator(sessionID: "s1", model: "m", dialect: .ga)
        let create = translator.client(.createItem(RealtimeMessage(id: "u1", role: .user, text: "Hi"), previousItemID: nil, eventID: nil))
        #expect(create.inputs == [.addToHistory(HistoryMessage(role: .user, text: "Hi"))])
        #expect(Self.names(create.events) == ["item.added", "item.done"])
        #expect(Self.names(translator.client(.createItem(RealtimeMessage(id: "u1", role: .user, text: "Hi"), previousItemID: nil, eventID: nil)).events) == ["error"])
        #expect(Self.names(translator.client(.createItem(RealtimeMessage(role: .system, text: "Be nice"), previousItemID: nil, eventID: nil)).events) == ["error"])
        #expect(Self.names(translator.client(.truncateItem(itemID: "u1", contentIndex: 0, audioEndMs: 0, eventID: nil)).events) == ["error"])
        #expect(Self.names(translator.client(.deleteItem(itemID: "u1", eventID: nil)).events) == ["item.deleted"])
        #expect(Self.names(translator.client(.deleteItem(itemID: "u1", eventID: nil)).events) == ["error"])

        for sequence in 1...5 { _ = translator.engine(.audio(turnID: "t1", pcm: Self.frame, sequence: sequence)) }
        _ = translator.engine(.replyEnded(turnID: "t1", frames: 5, reason: .completed, lateFrames: 0))
        guard let assistant = translator.items.last(where: \.isAssistant) else { return }
        #expect(Self.names(translator.client(.truncateItem(itemID: assistant.id, contentIndex: 0, audioEndMs: 60, eventID: nil)).events) == ["item.truncated"])
        #expect(Self.names(translator.client(.truncateItem(itemID: assistant.id, contentIndex: 0, audioEndMs: 500, eventID: nil)).events) == ["error"])
    }
}
