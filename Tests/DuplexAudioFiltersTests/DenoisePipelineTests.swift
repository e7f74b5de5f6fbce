@testable import DuplexAudioFilters
import Testing

@Suite struct DenoisePipelineTests {
    /// A model that passes its input through with a known delay.
    final class DelayModel: FrameDenoiser {
        let frameLength = 480
        let delay: Int
        private var history: [Float]

        init(delay: Int) {
            self.delay = delay
            history = [Float](repeating: 0, count: delay)
        }

        func process(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>) {
            history.append(contentsOf: UnsafeBufferPointer(start: input, count: frameLength))
            for index in 0..<frameLength { output[index] = history[index] }
            history.removeFirst(frameLength)
        }
    }

    @Test(arguments: [0, 480, 1440])
    func outputIsTheInputDelayedByExactlyTheLatency(modelDelay: Int) throws {
        let input = try TestAudio.clip("beckett")
        // Odd, changing chunk sizes, from one sample to more than a model frame.
        for chunks in [[320], [1, 7, 160, 333, 1000, 2], [4_000, 13]] {
            let pipeline = try DenoisePipeline(model: DelayModel(delay: modelDelay))
            let output = TestAudio.stream(input, chunks: chunks) { chunk in
                var out: [Float] = []
                pipeline.process(chunk, into: &out)
                #expect(out.count == chunk.count)
                return out
            }
            #expect(pipeline.underruns == 0)
            #expect(output[..<pipeline.latency].allSatisfy { $0 == 0 })
            let expected = TestAudio.delayed(input, by: pipeline.latency)
            // The two resamplers are not perfectly transparent (the band edge near 8 kHz),
            // but the error stays 35 dB down: a sample of misalignment would be far worse.
            let range = 16_000..<(input.count - 16_000)
            var error = 0.0
            for index in range { error += Double((output[index] - expected[index]) * (output[index] - expected[index])) }
            #expect(TestAudio.decibels(TestAudio.energy(expected[range]) / error) > 35)
        }
    }
}
