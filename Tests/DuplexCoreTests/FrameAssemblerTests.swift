import DuplexCore
import DuplexDSP
import Testing

@Suite struct FrameAssemblerTests {
    @Test func framesAreExactlyTwentyMillisecondsAndConcatenateSampleExactly() {
        var generator = SystemRandomNumberGenerator()
        let input = (0..<48_000 + 123).map { Int16(truncatingIfNeeded: $0 &* 7919) }
        var framer = FrameAssembler()
        var frames: [[Int16]] = []
        var index = 0
        while index < input.count {
            let size = Int.random(in: 1...2500, using: &generator)
            let chunk = Array(input[index..<min(input.count, index + size)])
            framer.append(chunk) { frames.append(Array($0)) }
            index += size
        }
        if let last = framer.flush() { frames.append(last) }
        #expect(frames.dropLast().allSatisfy { $0.count == OutputFormat.samplesPerFrame })
        #expect(frames.last?.count == 123)
        #expect(frames.flatMap { $0 } == input)
        #expect(OutputFormat.bytesPerFrame == 1920)
    }

    @Test func flushOfAnEmptyAssemblerIsNil() {
        var framer = FrameAssembler()
        framer.append([]) { _ in Issue.record("no frame expected") }
        #expect(framer.flush() == nil)
    }
}
