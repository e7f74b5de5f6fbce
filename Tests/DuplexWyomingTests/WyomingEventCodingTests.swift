import DuplexCore
import Foundation
import Testing

@testable import DuplexWyoming

/// The event framing: header line, data, payload, incremental decoding and its limits.
@Suite struct WyomingEventCodingTests {
    static let events = [
        WyomingEvent("describe"),
        WyomingEvent("synthesize", data: ["text": "Hello \"there\"\nsecond line, café 👍", "voice": ["name": "piper-en-us-joe"]]),
        WyomingEvent("audio-chunk", data: ["rate": 16000, "width": 2, "channels": 1, "timestamp": nil], payload: Array(0..<200).map { UInt8($0) }),
        WyomingEvent("ping", data: ["text": "x", "ratio": .double(0.5), "flags": [true, false, nil]]),
        WyomingEvent("audio-stop", payload: [10, 0, 13]),
    ]

    static func stream() -> [UInt8] { events.flatMap(WyomingEventEncoder.encode) }

    @Test func encodedEventsDecodeToTheSameEvents() throws {
        var decoder = WyomingEventDecoder()
        decoder.feed(Self.stream())
        var decoded: [WyomingEvent] = []
        while let event = try decoder.next() { decoded.append(event) }
        #expect(decoded == Self.events)
        #expect(decoder.bufferedBytes == 0)
    }

    @Test func everySplitOfTheStreamDecodesTheSame() throws {
        let bytes = Self.stream()
        for split in 1..<bytes.count {
            var decoder = WyomingEventDecoder()
            var decoded: [WyomingEvent] = []
            decoder.feed(bytes[..<split])
            while let event = try decoder.next() { decoded.append(event) }
            decoder.feed(bytes[split...])
            while let event = try decoder.next() { decoded.append(event) }
            #expect(decoded == Self.events, "split at \(split)")
        }
        // And one byte at a time.
        var decoder = WyomingEventDecoder()
        var decoded: [WyomingEvent] = []
        for byte in bytes {
            decoder.feed(CollectionOfOne(byte))
            while let event = try decoder.next() { decoded.append(event) }
        }
        #expect(decoded == Self.events)
    }

    @Test func theHeaderIsOneLineWithTheLengthsAsThePythonPackageWritesThem() throws {
        let bytes = WyomingEventEncoder.encode(Self.events[2])
        let newline = try #require(bytes.firstIndex(of: UInt8(ascii: "\n")))
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[..<newline])) as? [String: Any])
        #expect(header["type"] as? String == "audio-chunk")
        #expect(header["payload_length"] as? Int == 200)
        #expect(header["version"] as? String == WyomingEvent.protocolVersion)
        let dataLength = try #require(header["data_length"] as? Int)
        let data = try #require(try JSONSerialization.jsonObject(with: Data(bytes[(newline + 1)..<(newline + 1 + dataLength)])) as? [String: Any])
        #expect(data["rate"] as? Int == 16000)
        #expect(bytes.count == newline + 1 + dataLength + 200)
        // An event without data or payload is the header line alone.
        #expect(String(decoding: WyomingEventEncoder.encode(WyomingEvent("describe")), as: UTF8.self) == "{\"type\":\"describe\",\"version\":\"\(WyomingEvent.protocolVersion)\"}\n")
    }

    @Test func inlineDataAndDataBytesAreMergedAndCRLFIsAccepted() throws {
        let json = #"{"rate": 22050}"#
        let line = #"{"type": "audio-start", "data": {"rate": 16000, "width": 2}, "data_length": \#(json.utf8.count)}"# + "\r\n" + json
        var decoder = WyomingEventDecoder()
        decoder.feed(Array(line.utf8))
        let event = try #require(try decoder.next())
        #expect(event.data == ["rate": 22050, "width": 2])
        #expect(event.payload.isEmpty)
        #expect(try decoder.next() == nil)
    }

    @Test func oversizeEventsAreTypedErrorsBeforeTheyAreBuffered() throws {
        let limits = WyomingEventDecoder.Limits(maxHeaderBytes: 100, maxDataBytes: 50, maxPayloadBytes: 1000)
        func failure(_ text: String) throws -> WyomingDecodingError {
            var decoder = WyomingEventDecoder(limits: limits)
            decoder.feed(Array(text.utf8))
            do {
                while try decoder.next() != nil {}
            } catch {
                // The decoder stays failed.
                #expect(throws: WyomingDecodingError.self) { _ = try decoder.next() }
                return error
            }
            Issue.record("no error for \(text)")
            return WyomingDecodingError(.notUTF8)
        }
        #expect(try failure(String(repeating: "x", count: 101)).kind == .headerTooLong(limit: 100))
        #expect(try failure(#"{"type": "a", "data_length": 51}"# + "\n").kind == .dataTooLarge(length: 51, limit: 50))
        let payload = try failure(#"{"type": "a", "payload_length": 1000000000}"# + "\n")
        #expect(payload.kind == .payloadTooLarge(length: 1_000_000_000, limit: 1000))
        #expect(payload.isOversize)
        // A header within the limit that is still unfinished waits for more.
        var decoder = WyomingEventDecoder(limits: limits)
        decoder.feed(Array(String(repeating: "x", count: 100).utf8))
        #expect(try decoder.next() == nil)
    }

    @Test func malformedHeadersAndDataAreTypedErrors() throws {
        let cases: [(String, (WyomingDecodingError.Kind) -> Bool)] = [
            ("not json at all\n", { if case .malformedHeader = $0 { true } else { false } }),
            ("\n", { if case .malformedHeader = $0 { true } else { false } }),
            ("[1, 2]\n", { if case .malformedHeader = $0 { true } else { false } }),
            (#"{"data": {}}"# + "\n", { if case .malformedHeader = $0 { true } else { false } }),
            (#"{"type": 5}"# + "\n", { if case .malformedHeader = $0 { true } else { false } }),
            (#"{"type": "a", "data": [1]}"# + "\n", { if case .malformedHeader = $0 { true } else { false } }),
            (#"{"type": "a", "payload_length": -1}"# + "\n", { if case .malformedHeader = $0 { true } else { false } }),
            (#"{"type": "a", "payload_length": "3"}"# + "\n", { if case .malformedHeader = $0 { true } else { false } }),
            (#"{"type": "a", "data_length": 3}"# + "\n[1]", { if case .malformedData = $0 { true } else { false } }),
            (#"{"type": "a", "data_length": 3}"# + "\n{x}", { if case .malformedData = $0 { true } else { false } }),
        ]
        for (text, matches) in cases {
            var decoder = WyomingEventDecoder()
            decoder.feed(Array(text.utf8))
            #expect {
                while try decoder.next() != nil {}
            } throws: { error in
                guard let error = error as? WyomingDecodingError else { return false }
                return matches(error.kind) && !error.isOversize
            }
        }
    }

    @Test func nonUTF8HeadersAndDataAreRefused() throws {
        var header = Array(#"{"type": "a"#.utf8)
        header += [0xFF, 0xFE]
        header += Array("\"}\n".utf8)
        var decoder = WyomingEventDecoder()
        decoder.feed(header)
        #expect(throws: WyomingDecodingError(.notUTF8)) { _ = try decoder.next() }

        var data = WyomingEventDecoder()
        data.feed(Array((#"{"type": "a", "data_length": 4}"# + "\n").utf8) + [0x22, 0xC3, 0x28, 0x22])
        #expect(throws: WyomingDecodingError(.notUTF8)) { _ = try data.next() }

        // A payload is binary: any bytes are fine there.
        var payload = WyomingEventDecoder()
        payload.feed(Array((#"{"type": "a", "payload_length": 2}"# + "\n").utf8) + [0xFF, 0xFE])
        #expect(try payload.next()?.payload == [0xFF, 0xFE])
    }
}
