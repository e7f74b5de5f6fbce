import CSpeexDSP
import DuplexCore

/// Acoustic echo cancellation for the microphone path (`input.echo_cancel: speex`): removes
/// the reply audio that the client's loudspeaker plays back into its microphone, so the
/// user's own speech is what reaches voice activity detection and speech recognition.
///
/// Give it the reply audio as the server sends it to the client (``playback(_:)``) and the
/// microphone audio as it arrives (``capture(_:)``), both 16 kHz mono, nominal range
/// -1...1, in any chunk sizes. The reply audio is queued and consumed at the microphone's
/// pace, one 20 ms frame per captured frame, which models a client that plays the reply in
/// real time as it arrives; SpeexDSP's adaptive filter then finds the echo anywhere within
/// ``Configuration/tail`` after that, and its preprocessor suppresses the residual echo.
/// While nothing is queued the far end is silence and the microphone audio passes through
/// unchanged but for SpeexDSP's DC-blocking notch (a high-pass around 50 Hz).
///
/// ```swift
/// let canceller = try EchoCanceller()
/// canceller.playback(replyChunk)                 // when sending reply audio to the client
/// let clean = canceller.capture(microphoneChunk)  // when microphone audio arrives
/// canceller.stopPlayback()                        // when the client drops queued audio (barge-in)
/// ```
///
/// `capture(_:)` returns exactly as many samples as it is given, delayed by ``latency``.
///
/// Not thread-safe: one session's calls (from its send and receive paths) must be serialized
/// by the caller, e.g. by keeping the canceller in a `Mutex`.
///
/// SpeexDSP's own `speex_echo_playback`/`speex_echo_capture` pair is not used: its far-end
/// buffer holds two frames and expects a sound card's strictly alternating callbacks; reply
/// audio sent in bursts or with gaps would be discarded (with a warning on stderr for each
/// frame). The queue here does that buffering, and `speex_echo_cancellation` gets aligned
/// frames.
public final class EchoCanceller {
    /// The sample rate of all audio in and out: 16 kHz.
    public static let sampleRate = 16_000
    /// Samples per processing frame (20 ms).
    public static let frameSize = 320

    /// The settings in use.
    public let configuration: Configuration
    /// The fixed delay of ``capture(_:)``'s output relative to its input, in samples: one
    /// frame minus one sample of framing plus one frame of the preprocessor's overlap-add
    /// (639 samples, 40 ms).
    public let latency: Int

    private let echo: OpaquePointer
    private let preprocess: OpaquePointer
    private var queue: PlaybackQueue
    private let near: UnsafeMutableBufferPointer<Int16>
    private let far: UnsafeMutableBufferPointer<Int16>
    private let cleaned: UnsafeMutableBufferPointer<Int16>
    private var filled = 0
    /// Cancelled audio not handed out yet (starts with `frameSize - 1` samples of silence).
    private var ready: [Float]

    /// Creates an echo canceller for one session.
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) for a tail outside 20 ms ... 2 s
    ///   or a negative playback limit.
    public init(configuration: Configuration = Configuration()) throws(DuplexError) {
        let tail = Self.samples(in: configuration.tail)
        guard tail >= Self.frameSize, tail <= 2 * Self.sampleRate else {
            throw DuplexError(
                .invalidConfiguration,
                "The echo-cancellation tail must be between 20 ms and 2 s (got \(configuration.tail)).")
        }
        guard configuration.playbackLimit >= .zero else {
            throw DuplexError(
                .invalidConfiguration,
                "The echo-cancellation playback limit must not be negative (got \(configuration.playbackLimit)).")
        }
        guard let echo = speex_echo_state_init(Int32(Self.frameSize), Int32(tail)) else {
            throw DuplexError(.internal, "SpeexDSP could not create an echo canceller (out of memory?).")
        }
        guard let preprocess = speex_preprocess_state_init(Int32(Self.frameSize), Int32(Self.sampleRate)) else {
            speex_echo_state_destroy(echo)
            throw DuplexError(.internal, "SpeexDSP could not create a preprocessor (out of memory?).")
        }
        self.configuration = configuration
        self.echo = echo
        self.preprocess = preprocess
        queue = PlaybackQueue(capacity: Self.samples(in: configuration.playbackLimit))
        near = .allocate(capacity: Self.frameSize)
        near.initialize(repeating: 0)
        far = .allocate(capacity: Self.frameSize)
        far.initialize(repeating: 0)
        cleaned = .allocate(capacity: Self.frameSize)
        cleaned.initialize(repeating: 0)
        latency = 2 * Self.frameSize - 1
        // The preprocessor's frame of delay is produced by speex itself, so only the framing
        // part is pre-filled here.
        ready = [Float](repeating: 0, count: Self.frameSize - 1)
        ready.reserveCapacity(Self.frameSize + 16_384)
        configure()
    }

    deinit {
        speex_preprocess_state_destroy(preprocess)
        speex_echo_state_destroy(echo)
        near.deallocate()
        far.deallocate()
        cleaned.deallocate()
    }

    /// Queues reply audio as it is sent to the client (16 kHz mono).
    public func playback(_ farEnd: [Float]) {
        queue.append(farEnd)
    }

    /// Forgets the queued reply audio: call it when the client drops what it has not played
    /// yet (barge-in, reply cancelled). The filter keeps what it has learnt about the room.
    public func stopPlayback() {
        queue.removeAll()
    }

    /// Reply audio queued and not yet played, in samples.
    public var queuedPlayback: Int { queue.count }

    /// Reply audio refused because more than ``Configuration/playbackLimit`` was queued.
    public var droppedPlayback: Int { queue.dropped }

    /// Removes the echo from microphone audio (16 kHz mono); returns exactly
    /// `nearEnd.count` samples, delayed by ``latency``.
    public func capture(_ nearEnd: [Float]) -> [Float] {
        var output: [Float] = []
        output.reserveCapacity(nearEnd.count)
        capture(nearEnd, into: &output)
        return output
    }

    /// Removes the echo from microphone audio, appending exactly `nearEnd.count` samples to
    /// `output`.
    public func capture(_ nearEnd: [Float], into output: inout [Float]) {
        for sample in nearEnd {
            near[filled] = PCM16.sample(sample)
            filled += 1
            if filled == Self.frameSize {
                cancelFrame()
                filled = 0
            }
        }
        // `ready` holds one frame minus one sample plus whole frames, and at most that many
        // input samples wait in `near`, so it always has enough.
        output.append(contentsOf: ready[..<nearEnd.count])
        ready.removeFirst(nearEnd.count)
    }

    private func cancelFrame() {
        queue.pop(into: far)
        speex_echo_cancellation(echo, near.baseAddress, far.baseAddress, cleaned.baseAddress)
        // The return value is the preprocessor's voice activity flag, which is not enabled.
        _ = speex_preprocess_run(preprocess, cleaned.baseAddress)
        for sample in cleaned { ready.append(PCM16.float(sample)) }
    }

    private func configure() {
        var rate = Int32(Self.sampleRate)
        _ = speex_echo_ctl(echo, SPEEX_ECHO_SET_SAMPLING_RATE, &rate)
        _ = speex_preprocess_ctl(preprocess, SPEEX_PREPROCESS_SET_ECHO_STATE, UnsafeMutableRawPointer(echo))
        // Residual echo suppression is part of the preprocessor's denoiser, so the denoiser
        // stays on, with noise suppression limited to `noiseSuppression`: noise is the
        // business of `input.denoise`, and speech must pass unchanged when there is no echo.
        var on: Int32 = 1
        var off: Int32 = 0
        _ = speex_preprocess_ctl(preprocess, SPEEX_PREPROCESS_SET_DENOISE, &on)
        _ = speex_preprocess_ctl(preprocess, SPEEX_PREPROCESS_SET_AGC, &off)
        _ = speex_preprocess_ctl(preprocess, SPEEX_PREPROCESS_SET_DEREVERB, &off)
        var noise = Self.noiseSuppression
        _ = speex_preprocess_ctl(preprocess, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &noise)
        var suppress = Int32(configuration.echoSuppression)
        _ = speex_preprocess_ctl(preprocess, SPEEX_PREPROCESS_SET_ECHO_SUPPRESS, &suppress)
        var active = Int32(configuration.echoSuppressionWhileSpeaking)
        _ = speex_preprocess_ctl(preprocess, SPEEX_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE, &active)
    }

    /// The preprocessor's noise attenuation limit, in dB.
    static let noiseSuppression: Int32 = -1

    private static func samples(in duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * sampleRate + Int(attoseconds / 1_000_000_000_000) * sampleRate / 1_000_000
    }
}
