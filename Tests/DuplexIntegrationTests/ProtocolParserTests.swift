import DuplexCore
import DuplexEngine
import DuplexOrchestrator
import Testing

@Suite struct ProtocolParserTests {
    private func code(_ text: String, max: Int = 100) -> String? {
        do {
            _ = try ClientMessage.parse(text, maxTextCharacters: max)
            return nil
        } catch {
            return error.code.rawValue
        }
    }

    @Test func validMessagesParse() throws {
        #expect(try ClientMessage.parse(#"{"type":"text","text":"Hi.","is_final":false}"#, maxTextCharacters: 10) == .text("Hi.", isFinal: false))
        #expect(try ClientMessage.parse(#"{"type":"text","text":"Hi."}"#, maxTextCharacters: 10) == .text("Hi.", isFinal: true))
        #expect(try ClientMessage.parse(#"{"type":"control","command":"pause"}"#, maxTextCharacters: 10) == .control(.pause))
        guard case .start(let options) = try ClientMessage.parse(
            #"{"type":"start","model_id":"sine-440","audio_format":"base64","speed":1.5,"pacing":false}"#, maxTextCharacters: 10)
        else {
            Issue.record("expected start")
            return
        }
        #expect(options.modelID == "sine-440")
        #expect(options.audioFormat == .base64)
        #expect(options.voiceOptions["speed"] == "1.5")
        #expect(options.voiceOptions["pacing"] == "false")
    }

    @Test(arguments: [
        ("not json", "INVALID_MESSAGE"),
        ("[1,2]", "INVALID_MESSAGE"),
        ("{}", "INVALID_MESSAGE"),
        (#"{"type":42}"#, "INVALID_MESSAGE"),
        (#"{"type":"dance"}"#, "INVALID_MESSAGE"),
        (#"{"type":"text"}"#, "INVALID_MESSAGE"),
        (#"{"type":"text","text":5}"#, "INVALID_MESSAGE"),
        (#"{"type":"text","text":"a","is_final":"yes"}"#, "INVALID_MESSAGE"),
        (#"{"type":"text","text":"a","is_final":1}"#, "INVALID_MESSAGE"),
        (#"{"type":"control","command":"JUMP"}"#, "INVALID_MESSAGE"),
        (#"{"type":"control"}"#, "INVALID_MESSAGE"),
        (#"{"type":"start","audio_format":"mp3"}"#, "INVALID_MESSAGE"),
        (#"{"type":"start","input_sample_rate":12345}"#, "INVALID_MESSAGE"),
        (#"{"type":"start","speed":true}"#, "INVALID_MESSAGE"),
        (#"{"type":"start","speed":9}"#, "INVALID_MESSAGE"),
        (#"{"type":"start","pacing":"no"}"#, "INVALID_MESSAGE"),
        (#"{"type":"start","pacing":0}"#, "INVALID_MESSAGE"),
        (#"{"type":"start","mode":"karaoke"}"#, "INVALID_MESSAGE"),
        (#"{"type":"start","model_id":7}"#, "INVALID_MESSAGE"),
    ])
    func malformedMessagesGetTypedErrors(input: String, expected: String) {
        #expect(code(input) == expected)
    }

    @Test func oversizeTextIsRejected() {
        #expect(code(#"{"type":"text","text":"\#(String(repeating: "a", count: 101))"}"#) == "TEXT_TOO_LONG")
    }
}
