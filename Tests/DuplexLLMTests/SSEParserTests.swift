import DuplexLLM
import Testing

@Suite("SSEParser")
struct SSEParserTests {
    private func parse(_ text: String) throws -> [ServerSentEvent] {
        var parser = SSEParser()
        var events = try parser.feed(Array(text.utf8))
        if let last = parser.finish() { events.append(last) }
        return events
    }

    @Test("a data line and a blank line make one event")
    func singleEvent() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: {\"a\":1}\n".utf8)) == [])
        #expect(try parser.feed(Array("\n".utf8)) == [ServerSentEvent(data: "{\"a\":1}")])
        #expect(parser.finish() == nil)
    }

    @Test("lines may end with \\r\\n, \\n or \\r", arguments: ["\r\n", "\n", "\r"])
    func lineEndings(_ newline: String) throws {
        let text = "data: one\(newline)\(newline)data: two\(newline)\(newline)"
        #expect(try parse(text).map(\.data) == ["one", "two"])
    }

    @Test("comments are ignored, other fields are read")
    func commentsAndFields() throws {
        let text = ": keep-alive\n\nevent: update\nid: 7\nretry: 1500\ndata: x\n\n: another\ndata: y\n\n"
        let events = try parse(text)
        #expect(events == [
            ServerSentEvent(event: "update", data: "x", id: "7", retry: 1500),
            ServerSentEvent(data: "y", id: "7"),
        ])
    }

    @Test("several data lines are joined with newlines")
    func multiLineData() throws {
        #expect(try parse("data: first\ndata:second\ndata\ndata:  indented\n\n").map(\.data) == ["first\nsecond\n\n indented"])
    }

    @Test("a blank line with no data dispatches nothing; an empty data field does")
    func emptyEvents() throws {
        #expect(try parse("\n\nevent: x\n\n").isEmpty)
        #expect(try parse("data:\n\n").map(\.data) == [""])
    }

    @Test("an unterminated last event is returned by finish()")
    func finishFlushes() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: [DONE]".utf8)).isEmpty)
        #expect(parser.finish() == ServerSentEvent(data: "[DONE]"))
        #expect(parser.finish() == nil)
    }

    @Test("a leading byte order mark is skipped")
    func byteOrderMark() throws {
        var parser = SSEParser()
        #expect(try parser.feed([0xEF, 0xBB, 0xBF] + Array("data: a\n\n".utf8)).map(\.data) == ["a"])
    }

    @Test("over-long lines are rejected")
    func tooLong() throws {
        var parser = SSEParser(maximumEventBytes: 16)
        #expect(throws: DuplexLLMError.self) { try parser.feed(Array("data: 0123456789abcdefghij".utf8)) }
        do {
            var parser = SSEParser(maximumEventBytes: 16)
            _ = try parser.feed(Array("data: 0123456789abcdefghij\n".utf8))
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .llmBadStream)
        }
    }

    @Test("a stream split at every byte position parses the same", arguments: ["\n", "\r\n", "\r"])
    func splitAtEveryPosition(_ newline: String) throws {
        let stream = [
            ": OPENROUTER PROCESSING", "",
            #"data: {"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}"#, "",
            #"data: {"choices":[{"index":0,"delta":{"content":"Héllo 👋"},"finish_reason":null}]}"#, "",
            "event: note", "data: line one", "data: line two", "",
            #"data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#, "",
            "data: [DONE]", "", "",
        ].joined(separator: newline)
        let bytes = Array(stream.utf8)
        let expected = try parse(stream)
        #expect(expected.count == 5)
        #expect(expected[1].data.contains("Héllo 👋"))
        #expect(expected[2] == ServerSentEvent(event: "note", data: "line one\nline two"))
        #expect(expected.last?.data == "[DONE]")

        for split in 0...bytes.count {
            var parser = SSEParser()
            var events = try parser.feed(bytes[..<split])
            events += try parser.feed(bytes[split...])
            if let last = parser.finish() { events.append(last) }
            #expect(events == expected, "split at \(split)")
        }

        var parser = SSEParser()
        var events: [ServerSentEvent] = []
        for byte in bytes { events += try parser.feed(CollectionOfOne(byte)) }
        #expect(events == expected, "byte by byte")
    }
}
