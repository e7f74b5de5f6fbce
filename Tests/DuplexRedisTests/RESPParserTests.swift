import NIOCore
import Testing

@testable import DuplexRedis

@Suite("RESP2 parser and encoder")
struct RESPParserTests {
    private let parser = RESPParser()

    private func parseAll(_ text: String) throws(RedisError) -> [RESPValue] {
        var buffer = ByteBuffer(string: text)
        var values: [RESPValue] = []
        while let value = try parser.parse(&buffer) { values.append(value) }
        return values
    }

    @Test("parses every RESP2 type")
    func parsesEveryType() throws {
        let values = try parseAll("+OK\r\n-ERR bad thing\r\n:42\r\n:-7\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n")
        #expect(values == [
            .simpleString("OK"), .error("ERR bad thing"), .integer(42), .integer(-7),
            .bulkString("hello"), .bulkString(""), .bulkString(nil), .array(nil), .array([]),
        ])
    }

    @Test("bulk strings are binary-safe (CRLF inside the payload)")
    func binarySafeBulkString() throws {
        let values = try parseAll("$4\r\na\r\nb\r\n")
        #expect(values == [.bulkString("a\r\nb")])
    }

    @Test("nested arrays")
    func nestedArrays() throws {
        let values = try parseAll("*3\r\n:1\r\n*2\r\n$1\r\na\r\n*1\r\n+x\r\n$-1\r\n")
        #expect(values == [.array([.integer(1), .array([.bulkString("a"), .array([.simpleString("x")])]), .bulkString(nil)])])
    }

    @Test("input split at every byte boundary yields the same values and consumes nothing early")
    func splitInput() throws {
        let wire = "*2\r\n$3\r\nfoo\r\n*2\r\n:1\r\n$-1\r\n+PONG\r\n$6\r\nfoobar\r\n"
        let expected = try parseAll(wire)
        #expect(expected.count == 3)
        let bytes = Array(wire.utf8)
        for split in 1..<bytes.count {
            var buffer = ByteBuffer()
            var values: [RESPValue] = []
            buffer.writeBytes(bytes[..<split])
            while let value = try parser.parse(&buffer) { values.append(value) }
            buffer.writeBytes(bytes[split...])
            while let value = try parser.parse(&buffer) { values.append(value) }
            #expect(values == expected, "split at \(split)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test("one byte at a time")
    func oneByteAtATime() throws {
        let wire = Array("*2\r\n$5\r\nhello\r\n:12345\r\n".utf8)
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        for byte in wire {
            buffer.writeInteger(byte)
            if let value = try parser.parse(&buffer) { values.append(value) }
        }
        #expect(values == [.array([.bulkString("hello"), .integer(12345)])])
    }

    @Test("many replies in one read")
    func manyReplies() throws {
        let wire = (0..<1000).map { ":\($0)\r\n" }.joined()
        let values = try parseAll(wire)
        #expect(values == (0..<1000).map { .integer($0) })
    }

    @Test(
        "bad input throws a protocol error without consuming",
        arguments: [
            "?what\r\n",  // unknown type byte
            ":12a\r\n",  // not an integer
            ":\r\n",  // empty integer
            "$-2\r\n",  // negative bulk length
            "$abc\r\n",  // non-numeric bulk length
            "$3\r\nfooXY",  // bulk not followed by CRLF
            "*-5\r\n",  // negative array length
            "+OK\n",  // LF without CR
            "*1\r\n!\r\n",  // bad type inside an array
        ])
    func badInput(_ wire: String) {
        var buffer = ByteBuffer(string: wire)
        let start = buffer.readerIndex
        #expect {
            _ = try parser.parse(&buffer)
        } throws: { error in
            (error as? RedisError)?.code == .protocolError
        }
        #expect(buffer.readerIndex == start)
    }

    @Test("arrays nested too deep are rejected, not recursed into")
    func tooDeep() {
        var buffer = ByteBuffer(string: String(repeating: "*1\r\n", count: 10_000) + ":1\r\n")
        #expect(throws: RedisError.self) { _ = try parser.parse(&buffer) }
    }

    @Test("a status line without CRLF longer than the limit is rejected")
    func overlongLine() {
        var buffer = ByteBuffer(string: "+" + String(repeating: "a", count: RESPParser.maximumLineLength + 10))
        #expect(throws: RedisError.self) { _ = try parser.parse(&buffer) }
    }

    @Test("a huge announced array does not allocate up front")
    func hugeAnnouncedArray() throws {
        var buffer = ByteBuffer(string: "*2000000000\r\n:1\r\n")
        #expect(try parser.parse(&buffer) == nil)
    }

    @Test("commands are encoded as arrays of bulk strings")
    func encodesCommands() {
        var buffer = ByteBuffer()
        RESPEncoder.encode(["SET", "kéy", ""], into: &buffer)
        #expect(String(buffer: buffer) == "*3\r\n$3\r\nSET\r\n$4\r\nkéy\r\n$0\r\n\r\n")
    }

    @Test("encode then parse round-trips")
    func roundTrip() throws {
        let value = RESPValue.array([
            .simpleString("OK"), .error("ERR x"), .integer(-1), .bulkString("a\r\nb"), .bulkString(nil), .array(nil),
            .array([.array([]), .integer(Int.max)]),
        ])
        var buffer = ByteBuffer()
        RESPEncoder.encode(value, into: &buffer)
        #expect(try parser.parse(&buffer) == value)
        #expect(buffer.readableBytes == 0)
    }

    @Test("value accessors")
    func accessors() {
        #expect(RESPValue.bulkString("12").int == 12)
        #expect(RESPValue.integer(3).int == 3)
        #expect(RESPValue.simpleString("OK").string == "OK")
        #expect(RESPValue.bulkString(nil).isNull)
        #expect(RESPValue.array(nil).array == nil)
        #expect(RESPValue.error("ERR").errorMessage == "ERR")
    }
}
