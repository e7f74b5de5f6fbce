import DuplexConfig
import DuplexCore
import DuplexEngine
import Testing

/// A bad `conversation:` or `llm:` section stops the server at start, naming the key, instead
/// of failing every turn.
@Suite struct StartupValidationTests {
    static func code(_ configuration: DuplexConfiguration) -> (String, String)? {
        do {
            _ = try Responders.make(configuration)
            return nil
        } catch {
            return (error.code.rawValue, error.message)
        }
    }

    @Test func theDefaultsAndTheShippedResponderSettingsAreValid() {
        var config = DuplexConfiguration()
        #expect(Self.code(config) == nil)
        config.conversation.responder = "llm"
        #expect(Self.code(config) == nil)
        config.conversation.backchannelMaxMs = 0
        #expect(Self.code(config) == nil)
    }

    @Test func aBadLLMSectionIsRefusedNamingTheKey() throws {
        var config = DuplexConfiguration()
        config.conversation.responder = "llm"
        config.llm.baseURL = "not a url"
        let (code, message) = try #require(Self.code(config))
        #expect(code == "INVALID_CONFIGURATION")
        #expect(message.contains("llm"))
    }

    @Test(arguments: [(300, 300), (300, 200)])
    func backchannelsMustOutlastAnInterruption(minInterruption: Int, backchannelMax: Int) throws {
        var config = DuplexConfiguration()
        config.conversation.minInterruptionMs = minInterruption
        config.conversation.backchannelMaxMs = backchannelMax
        let (code, message) = try #require(Self.code(config))
        #expect(code == "INVALID_CONFIGURATION")
        #expect(message.contains("conversation.backchannel_max_ms"))
    }

    @Test func aBackchannelNeedsWords() throws {
        var config = DuplexConfiguration()
        config.conversation.backchannels = ["okay", "  ..."]
        let (_, message) = try #require(Self.code(config))
        #expect(message.contains("conversation.backchannels"))
    }
}
