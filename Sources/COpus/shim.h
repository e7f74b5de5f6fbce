#include <opus/opus.h>

// opus_encoder_ctl/opus_decoder_ctl are C variadic functions, which Swift cannot call:
// these typed wrappers expose the few requests Duplex uses.

static inline int duplex_opus_encoder_set_bitrate(OpusEncoder *encoder, opus_int32 bitsPerSecond) {
    return opus_encoder_ctl(encoder, OPUS_SET_BITRATE(bitsPerSecond));
}

static inline int duplex_opus_encoder_set_signal_voice(OpusEncoder *encoder) {
    return opus_encoder_ctl(encoder, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
}

static inline int duplex_opus_encoder_set_complexity(OpusEncoder *encoder, opus_int32 complexity) {
    return opus_encoder_ctl(encoder, OPUS_SET_COMPLEXITY(complexity));
}

static inline int duplex_opus_encoder_get_lookahead(OpusEncoder *encoder, opus_int32 *lookahead) {
    return opus_encoder_ctl(encoder, OPUS_GET_LOOKAHEAD(lookahead));
}

static inline int duplex_opus_decoder_set_gain(OpusDecoder *decoder, opus_int32 q8Decibels) {
    return opus_decoder_ctl(decoder, OPUS_SET_GAIN(q8Decibels));
}
