import DuplexClient
import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexTesting
import Foundation
import Logging
import NIOCore
import Testing

@testable import DuplexOrchestrator

/// `limits.max_message_bytes` is enforced where messages are read: anything larger (text or
/// binary, in one frame or many) is answered with MESSAGE_TOO_LARGE and the session goes on.
@Suite(.serialized) struct WebSocketLimitsTests {
    let logger = Logger(label: "test")

    @Test func aTwoMegabyteTextMessageIsRefusedAndTheSameConnectionThenSpeaks() async throws {
        try await TestServer.with { server in
            try await DuplexConnection.connect(url: server.webSocketURL, logger: logger) { connection in
                _ = try await connection.next(type: "session_start")
                let big = #"{"type":"text","text":""# + String(repeating: "a", count: 2 << 20) + #""}"#
                try await connection.send(raw: big)
                let error = try #require(try await connection.next(type: "error").json)
                #expect(error["code"] as? String == "MESSAGE_TOO_LARGE")
                #expect((error["message"] as? String)?.contains("limits.max_message_bytes") == true)
                let reply = try await connection.speak("Still here after the big one.")
                #expect(reply.reason == "completed")
                #expect(reply.frameSizes.count > 10)
            }
        }
    }

    @Test func oversizeBinaryAndFragmentedMessagesAreRefusedTooAndInvalidUTF8ClosesWith1007() async throws {
        var config = TestServer.configuration()
        config.limits.maxMessageBytes = 4096
        try await TestServer.with(config) { server in
            try await DuplexConnection.connect(url: server.webSocketURL, logger: logger) { connection in
                _ = try await connection.next(type: "session_start")
                try await connection.send(binary: Data(count: 5000))
                let binary = try #require(try await connection.next(type: "error").json)
                #expect(binary["code"] as? String == "MESSAGE_TOO_LARGE")
                // 3 × 2000 bytes: each frame is small, the message is not.
                try await connection.send(fragments: Array(repeating: Data(repeating: 0x61, count: 2000), count: 3))
                let fragmented = try #require(try await connection.next(type: "error").json)
                #expect(fragmented["code"] as? String == "MESSAGE_TOO_LARGE")
                // A fragmented message within the limit is a message like any other.
                let parts = [#"{"type":"text","#, #""text":"In pieces.","#, #""is_final":true}"#].map { Data($0.utf8) }
                try await connection.send(fragments: parts)
                let reply = try await connection.collectReply(sentAt: .now)
                #expect(reply.reason == "completed")
                // Text that is not UTF-8: a typed error, then the close RFC 6455 asks for.
                try await connection.send(fragments: [Data([0x7B, 0xFF, 0xFE, 0x7D])])
                let invalid = try #require(try await connection.next(type: "error").json)
                #expect(invalid["code"] as? String == "INVALID_MESSAGE")
                let closed = try await connection.next()
                #expect(closed == nil)
            }
        }
    }

    @Test func theAssemblerNeverBuffersPastTheLimit() throws {
        var assembler = WebSocketMessageAssembler(maxBytes: 10)
        let five = ByteBuffer(bytes: Array(repeating: 1, count: 5))
        #expect(try assembler.append(.text, five, fin: false) == nil)
        #expect(try assembler.append(.continuation, five, fin: false) == nil)
        // Over the limit: dropped from here on, reported with the full size at the end.
        #expect(try assembler.append(.continuation, five, fin: false) == nil)
        #expect(try assembler.append(.continuation, five, fin: true) == .tooLarge(bytes: 20))
        // The next message is assembled normally.
        #expect(try assembler.append(.binary, five, fin: true) == .binary(five))
        #expect(throws: WebSocketMessageAssembler.ProtocolViolation.self) { try assembler.append(.continuation, five, fin: true) }
        #expect(try assembler.append(.text, five, fin: false) == nil)
        #expect(throws: WebSocketMessageAssembler.ProtocolViolation.self) { try assembler.append(.text, five, fin: true) }
    }
}
