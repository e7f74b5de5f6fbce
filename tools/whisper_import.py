#!/usr/bin/env python3
"""Convert faster-whisper (CTranslate2) Whisper weights into the ONNX layout
that sherpa-onnx's offline Whisper recognizer loads.

    whisper_import.py SRC_DIR OUT_DIR [--no-quantize] [--model-type NAME]

SRC_DIR holds `model.bin` (or split `model.bin.part1`, `model.bin.part2`, ...
which are joined in numeric order), `config.json` and `tokenizer.json`.

OUT_DIR receives:
  encoder.int8.onnx, decoder.int8.onnx   (default; int8 dynamic quantization
                                          of MatMul weights, token embedding
                                          kept fp32)
  encoder.onnx, decoder.onnx             (with --no-quantize)
  tokens.txt                             (base64 token bytes + id, ids < eot)

Encoder:  mel f32 [N, n_mels, T]  ->  n_layer_cross_k, n_layer_cross_v
          f32 [n_text_layer, N, T/2, d_model]
Decoder:  tokens i64 [N, n], in_n_layer_self_k_cache, in_n_layer_self_v_cache
          f32 [n_text_layer, N, n_text_ctx, d_model], n_layer_cross_k,
          n_layer_cross_v, offset i64 [1]
          -> logits [N, n, n_vocab], out_n_layer_self_k_cache,
             out_n_layer_self_v_cache

Needs numpy, onnx, onnxruntime (for quantization and the self-check).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import re
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # opset 17 <-> IR 8; loads in any onnxruntime >= 1.13

# --------------------------------------------------------------------------
# CTranslate2 model.bin reader
# --------------------------------------------------------------------------

_CT2_DTYPES = {
    0: np.float32,
    1: np.int8,
    2: np.int16,
    3: np.int32,
    4: np.float16,
    # 5: bfloat16, handled separately
}


def _read_model_bytes(src: Path) -> bytes:
    single = src / "model.bin"
    if single.is_file():
        return single.read_bytes()
    parts = []
    for p in src.iterdir():
        m = re.fullmatch(r"model\.bin\.part(\d+)", p.name)
        if m:
            parts.append((int(m.group(1)), p))
    if not parts:
        raise SystemExit(f"error: no model.bin or model.bin.partN in {src}")
    parts.sort()
    print(f"joining {len(parts)} parts: {', '.join(p.name for _, p in parts)}")
    return b"".join(p.read_bytes() for _, p in parts)


def read_ct2(src: Path) -> tuple[str, dict[str, np.ndarray]]:
    buf = _read_model_bytes(src)
    pos = 0

    def u(fmt: str):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, buf, pos)[0]
        pos += struct.calcsize(fmt)
        return v

    def s() -> str:
        nonlocal pos
        n = u("H")
        b = buf[pos:pos + n]
        pos += n
        return b.rstrip(b"\0").decode("utf-8")

    version = u("I")
    if version < 5:
        raise SystemExit(f"error: unsupported CTranslate2 binary version {version}")
    spec = s()
    _revision = u("I")
    count = u("I")
    out: dict[str, np.ndarray] = {}
    for _ in range(count):
        name = s()
        rank = u("B")
        dims = [u("I") for _ in range(rank)]
        dtype = u("B")
        nbytes = u("I")
        raw = buf[pos:pos + nbytes]
        pos += nbytes
        if dtype == 5:  # bfloat16 -> float32
            a = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            arr = a.view(np.float32)
        elif dtype in _CT2_DTYPES:
            arr = np.frombuffer(raw, dtype=_CT2_DTYPES[dtype])
        else:
            raise SystemExit(f"error: unknown dtype {dtype} for {name}")
        out[name] = arr.reshape(dims) if dims else arr.reshape(())
    n_alias = u("I")
    for _ in range(n_alias):
        alias = s()
        target = s()
        out[alias] = out[target]
    if pos != len(buf):
        raise SystemExit(f"error: trailing bytes in model.bin ({pos} != {len(buf)})")
    return spec, out


# --------------------------------------------------------------------------
# Graph-building helpers
# --------------------------------------------------------------------------


class G:
    """Tiny graph builder on top of onnx.helper."""

    def __init__(self):
        self.nodes = []
        self.inits = {}
        self.n = 0

    def name(self, hint: str) -> str:
        self.n += 1
        return f"{hint}_{self.n}"

    def init(self, name: str, arr: np.ndarray) -> str:
        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(np.ascontiguousarray(arr), name)
        return name

    def const(self, arr, dtype=np.int64) -> str:
        a = np.asarray(arr, dtype=dtype)
        key = f"c_{a.dtype}_{'x'.join(map(str, a.shape))}_{a.tobytes().hex()}"
        return self.init(key, a)

    def op(self, op_type: str, inputs, hint=None, n_out=1, **attrs):
        hint = hint or op_type.lower()
        outs = [self.name(hint) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self.name("n_" + hint), **attrs))
        return outs[0] if n_out == 1 else outs

    # building blocks ------------------------------------------------------
    def linear(self, x, w: np.ndarray, b: np.ndarray | None, name: str):
        """x @ w.T + b where w is [out, in] (CTranslate2/PyTorch layout)."""
        wn = self.init(name + ".weight", w.T.astype(np.float32))
        y = self.op("MatMul", [x, wn], hint=name)
        if b is not None and np.any(b != 0):
            bn = self.init(name + ".bias", b.astype(np.float32))
            y = self.op("Add", [y, bn], hint=name + "_b")
        return y

    def layer_norm(self, x, gamma, beta, name):
        g = self.init(name + ".gamma", gamma.astype(np.float32))
        b = self.init(name + ".beta", beta.astype(np.float32))
        return self.op("LayerNormalization", [x, g, b], hint=name, axis=-1, epsilon=1e-5)

    def gelu(self, x):
        # exact GELU: 0.5 * x * (1 + erf(x / sqrt(2))); onnxruntime fuses it
        t = self.op("Div", [x, self.const(math.sqrt(2.0), np.float32)])
        t = self.op("Erf", [t])
        t = self.op("Add", [t, self.const(1.0, np.float32)])
        t = self.op("Mul", [x, t])
        return self.op("Mul", [t, self.const(0.5, np.float32)], hint="gelu")

    def heads(self, x, n_head, d_head):
        """[N, T, D] -> [N, H, T, dh]"""
        r = self.op("Reshape", [x, self.const([0, 0, n_head, d_head])])
        return self.op("Transpose", [r], perm=[0, 2, 1, 3])

    def attention(self, q, k, v, n_head, d_head, mask=None):
        """q [N,Tq,D], k/v [N,Tk,D] -> [N,Tq,D]"""
        qh = self.heads(q, n_head, d_head)
        kr = self.op("Reshape", [k, self.const([0, 0, n_head, d_head])])
        kh = self.op("Transpose", [kr], perm=[0, 2, 3, 1])  # [N,H,dh,Tk]
        vh = self.heads(v, n_head, d_head)
        qh = self.op("Mul", [qh, self.const(1.0 / math.sqrt(d_head), np.float32)])
        s = self.op("MatMul", [qh, kh], hint="scores")
        if mask is not None:
            s = self.op("Add", [s, mask])
        p = self.op("Softmax", [s], axis=-1)
        o = self.op("MatMul", [p, vh])  # [N,H,Tq,dh]
        o = self.op("Transpose", [o], perm=[0, 2, 1, 3])
        return self.op("Reshape", [o, self.const([0, 0, n_head * d_head])])

    def ffn(self, x, W, pre):
        h = self.layer_norm(x, W[pre + "/layer_norm/gamma"], W[pre + "/layer_norm/beta"], pre + "/ln")
        h = self.linear(h, W[pre + "/linear_0/weight"], W[pre + "/linear_0/bias"], pre + "/fc1")
        h = self.gelu(h)
        h = self.linear(h, W[pre + "/linear_1/weight"], W[pre + "/linear_1/bias"], pre + "/fc2")
        return self.op("Add", [x, h])

    def model(self, inputs, outputs, meta: dict[str, str], name: str):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, list(self.inits.values()))
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="duplex-whisper-import")
        m.ir_version = IR_VERSION
        set_meta(m, meta)
        return m


def set_meta(m: onnx.ModelProto, meta: dict[str, str]):
    del m.metadata_props[:]
    for k, v in meta.items():
        e = m.metadata_props.add()
        e.key = k
        e.value = str(v)


# --------------------------------------------------------------------------
# Whisper dimensions, tokenizer facts
# --------------------------------------------------------------------------


def count_layers(W, prefix):
    n = 0
    while f"{prefix}/layer_{n}/ffn/linear_0/weight" in W:
        n += 1
    return n


def scalar_int(W, name, default=None):
    if name not in W:
        if default is None:
            raise SystemExit(f"error: missing {name}")
        return default
    return int(np.asarray(W[name]).reshape(-1)[0])


def bytes_to_unicode():
    """GPT-2's byte <-> printable unicode mapping."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def tokenizer_facts(src: Path, n_vocab: int):
    tok = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    vocab: dict[str, int] = tok["model"]["vocab"]
    added = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
    allv = dict(vocab)
    allv.update(added)

    def special(*names):
        for nm in names:
            if nm in allv:
                return allv[nm]
        raise SystemExit(f"error: tokenizer.json lacks {names[0]}")

    eot = special("<|endoftext|>")
    sot = special("<|startoftranscript|>")
    translate = special("<|translate|>")
    transcribe = special("<|transcribe|>")
    sot_lm = special("<|startoflm|>")
    sot_prev = special("<|startofprev|>")
    no_speech = special("<|nospeech|>", "<|nocaptions|>")
    no_timestamps = special("<|notimestamps|>")

    langs = sorted(
        ((i, c[2:-2]) for c, i in added.items()
         if sot < i < translate and re.fullmatch(r"<\|[a-z]{2,3}\|>", c)),
    )
    lang_tokens = [i for i, _ in langs]
    lang_codes = [c for _, c in langs]

    byte_decoder = {v: k for k, v in bytes_to_unicode().items()}
    id2tok = {i: t for t, i in vocab.items()}
    lines = []
    for i in range(eot):
        t = id2tok.get(i)
        if t is None:
            raise SystemExit(f"error: token id {i} missing from tokenizer.json vocab")
        raw = bytes(byte_decoder[ch] for ch in t)
        lines.append(f"{base64.b64encode(raw).decode('ascii')} {i}")

    blank = vocab.get("\u0120")  # 'Ġ' == b' '
    if blank is None:
        raise SystemExit("error: no token for ' ' in tokenizer.json")

    cfg_path = src / "config.json"
    suppress = []
    if cfg_path.is_file():
        cfg = json.loads(cfg_path.read_text())
        suppress = [int(i) for i in cfg.get("suppress_ids", []) if int(i) < eot]

    is_multi = n_vocab >= 51865
    sot_seq = [sot] + ([lang_tokens[lang_codes.index("en")], transcribe] if is_multi else [])
    return dict(
        eot=eot, sot=sot, translate=translate, transcribe=transcribe, sot_lm=sot_lm,
        sot_prev=sot_prev, no_speech=no_speech, no_timestamps=no_timestamps,
        lang_tokens=lang_tokens, lang_codes=lang_codes, blank=blank, suppress=suppress,
        is_multi=is_multi, sot_sequence=sot_seq, token_lines=lines,
    )


# --------------------------------------------------------------------------
# Encoder / decoder graphs
# --------------------------------------------------------------------------


def build_encoder(W, dims, meta):
    g = G()
    n_mels, d, h_a, L_a = dims["n_mels"], dims["n_audio_state"], dims["n_audio_head"], dims["n_audio_layer"]
    d_t, L_t = dims["n_text_state"], dims["n_text_layer"]
    dh = d // h_a

    x = "mel"
    w1 = g.init("encoder/conv1.weight", W["encoder/conv1/weight"].astype(np.float32))
    b1 = g.init("encoder/conv1.bias", W["encoder/conv1/bias"].astype(np.float32))
    x = g.op("Conv", [x, w1, b1], hint="conv1", kernel_shape=[3], pads=[1, 1], strides=[1])
    x = g.gelu(x)
    w2 = g.init("encoder/conv2.weight", W["encoder/conv2/weight"].astype(np.float32))
    b2 = g.init("encoder/conv2.bias", W["encoder/conv2/bias"].astype(np.float32))
    x = g.op("Conv", [x, w2, b2], hint="conv2", kernel_shape=[3], pads=[1, 1], strides=[2])
    x = g.gelu(x)
    x = g.op("Transpose", [x], perm=[0, 2, 1])  # [N, T', D]

    # positional embedding, sliced to the actual number of frames
    pos = g.init("encoder/positional_embedding", W["encoder/position_encodings/encodings"].astype(np.float32))
    t = g.op("Shape", [x], start=1, end=2)
    pe = g.op("Slice", [pos, g.const([0]), t, g.const([0])])
    x = g.op("Add", [x, pe])

    for i in range(L_a):
        p = f"encoder/layer_{i}"
        sa = p + "/self_attention"
        hN = g.layer_norm(x, W[sa + "/layer_norm/gamma"], W[sa + "/layer_norm/beta"], sa + "/ln")
        wqkv, bqkv = W[sa + "/linear_0/weight"], W[sa + "/linear_0/bias"]
        q = g.linear(hN, wqkv[:d], bqkv[:d], sa + "/q")
        k = g.linear(hN, wqkv[d:2 * d], bqkv[d:2 * d], sa + "/k")
        v = g.linear(hN, wqkv[2 * d:], bqkv[2 * d:], sa + "/v")
        a = g.attention(q, k, v, h_a, dh)
        a = g.linear(a, W[sa + "/linear_1/weight"], W[sa + "/linear_1/bias"], sa + "/out")
        x = g.op("Add", [x, a])
        x = g.ffn(x, W, p + "/ffn")

    x = g.layer_norm(x, W["encoder/layer_norm/gamma"], W["encoder/layer_norm/beta"], "encoder/ln_post")

    ks, vs = [], []
    for i in range(L_t):
        ca = f"decoder/layer_{i}/attention"
        wkv, bkv = W[ca + "/linear_1/weight"], W[ca + "/linear_1/bias"]
        k = g.linear(x, wkv[:d_t], bkv[:d_t], ca + "/k")
        v = g.linear(x, wkv[d_t:], bkv[d_t:], ca + "/v")
        ks.append(g.op("Unsqueeze", [k, g.const([0])]))
        vs.append(g.op("Unsqueeze", [v, g.const([0])]))
    g.nodes.append(helper.make_node("Concat", ks, ["n_layer_cross_k"], axis=0, name="cat_k"))
    g.nodes.append(helper.make_node("Concat", vs, ["n_layer_cross_v"], axis=0, name="cat_v"))

    inputs = [helper.make_tensor_value_info("mel", TensorProto.FLOAT, ["n_audio", n_mels, "T"])]
    outputs = [
        helper.make_tensor_value_info("n_layer_cross_k", TensorProto.FLOAT, [L_t, "n_audio", "T_audio", d_t]),
        helper.make_tensor_value_info("n_layer_cross_v", TensorProto.FLOAT, [L_t, "n_audio", "T_audio", d_t]),
    ]
    return g.model(inputs, outputs, meta, "whisper_encoder")


def build_decoder(W, dims, meta):
    g = G()
    d, h, L, n_ctx, n_vocab = (dims["n_text_state"], dims["n_text_head"], dims["n_text_layer"],
                               dims["n_text_ctx"], dims["n_vocab"])
    dh = d // h

    emb = g.init("decoder/token_embedding", W["decoder/embeddings/weight"].astype(np.float32))
    pos = g.init("decoder/positional_embedding", W["decoder/position_encodings/encodings"].astype(np.float32))

    # offset (scalar and [1]), n (number of new tokens), end = offset + n
    n1 = g.op("Shape", ["tokens"], start=1, end=2)              # [1]
    end1 = g.op("Add", ["offset", n1])                          # [1]
    off0 = g.op("Squeeze", ["offset", g.const([0])])            # scalar
    end0 = g.op("Squeeze", [end1, g.const([0])])                # scalar

    x = g.op("Gather", [emb, "tokens"], axis=0)                 # [N, n, D]
    pe = g.op("Slice", [pos, "offset", end1, g.const([0])])     # [n, D]
    x = g.op("Add", [x, pe])

    # causal mask [n, end]: query at absolute position offset+i sees keys j <= offset+i
    rows = g.op("Range", [off0, end0, g.const(1)])
    cols = g.op("Range", [g.const(0), end0, g.const(1)])
    allowed = g.op("LessOrEqual", [g.op("Unsqueeze", [cols, g.const([0])]),
                                   g.op("Unsqueeze", [rows, g.const([1])])])
    mask = g.op("Where", [allowed, g.const(0.0, np.float32), g.const(-1e9, np.float32)], hint="mask")

    big = g.const([np.iinfo(np.int64).max])
    k_out, v_out = [], []
    for i in range(L):
        p = f"decoder/layer_{i}"
        sa = p + "/self_attention"
        hN = g.layer_norm(x, W[sa + "/layer_norm/gamma"], W[sa + "/layer_norm/beta"], sa + "/ln")
        wqkv, bqkv = W[sa + "/linear_0/weight"], W[sa + "/linear_0/bias"]
        q = g.linear(hN, wqkv[:d], bqkv[:d], sa + "/q")
        k = g.linear(hN, wqkv[d:2 * d], bqkv[d:2 * d], sa + "/k")
        v = g.linear(hN, wqkv[2 * d:], bqkv[2 * d:], sa + "/v")

        li = g.const([i])
        full = []
        for new, cache in ((k, "in_n_layer_self_k_cache"), (v, "in_n_layer_self_v_cache")):
            c = g.op("Squeeze", [g.op("Slice", [cache, li, g.const([i + 1]), g.const([0])]), g.const([0])])
            before = g.op("Slice", [c, g.const([0]), "offset", g.const([1])])
            after = g.op("Slice", [c, end1, big, g.const([1])])
            full.append(g.op("Concat", [before, new, after], axis=1))  # [N, n_ctx, D]
        kf, vf = full
        k_out.append(g.op("Unsqueeze", [kf, g.const([0])]))
        v_out.append(g.op("Unsqueeze", [vf, g.const([0])]))
        ka = g.op("Slice", [kf, g.const([0]), end1, g.const([1])])
        va = g.op("Slice", [vf, g.const([0]), end1, g.const([1])])
        a = g.attention(q, ka, va, h, dh, mask=mask)
        a = g.linear(a, W[sa + "/linear_1/weight"], W[sa + "/linear_1/bias"], sa + "/out")
        x = g.op("Add", [x, a])

        ca = p + "/attention"
        hN = g.layer_norm(x, W[ca + "/layer_norm/gamma"], W[ca + "/layer_norm/beta"], ca + "/ln")
        q = g.linear(hN, W[ca + "/linear_0/weight"], W[ca + "/linear_0/bias"], ca + "/q")
        ck = g.op("Squeeze", [g.op("Slice", ["n_layer_cross_k", li, g.const([i + 1]), g.const([0])]), g.const([0])])
        cv = g.op("Squeeze", [g.op("Slice", ["n_layer_cross_v", li, g.const([i + 1]), g.const([0])]), g.const([0])])
        a = g.attention(q, ck, cv, h, dh)
        a = g.linear(a, W[ca + "/linear_2/weight"], W[ca + "/linear_2/bias"], ca + "/out")
        x = g.op("Add", [x, a])
        x = g.ffn(x, W, p + "/ffn")

    x = g.layer_norm(x, W["decoder/layer_norm/gamma"], W["decoder/layer_norm/beta"], "decoder/ln")
    # logits = x @ emb.T via Gemm(transB=1) so the embedding is shared with the
    # Gather above and is not touched by MatMul quantization (stays fp32).
    x2 = g.op("Reshape", [x, g.const([-1, d])])
    lg = g.op("Gemm", [x2, emb], transB=1, hint="logits2d")
    shp = g.op("Concat", [g.op("Shape", ["tokens"]), g.const([n_vocab])], axis=0)
    g.nodes.append(helper.make_node("Reshape", [lg, shp], ["logits"], name="logits_reshape"))
    g.nodes.append(helper.make_node("Concat", k_out, ["out_n_layer_self_k_cache"], axis=0, name="cat_sk"))
    g.nodes.append(helper.make_node("Concat", v_out, ["out_n_layer_self_v_cache"], axis=0, name="cat_sv"))

    cache_shape = [L, "n_audio", n_ctx, d]
    inputs = [
        helper.make_tensor_value_info("tokens", TensorProto.INT64, ["n_audio", "n_tokens"]),
        helper.make_tensor_value_info("in_n_layer_self_k_cache", TensorProto.FLOAT, cache_shape),
        helper.make_tensor_value_info("in_n_layer_self_v_cache", TensorProto.FLOAT, cache_shape),
        helper.make_tensor_value_info("n_layer_cross_k", TensorProto.FLOAT, [L, "n_audio", "T_audio", d]),
        helper.make_tensor_value_info("n_layer_cross_v", TensorProto.FLOAT, [L, "n_audio", "T_audio", d]),
        helper.make_tensor_value_info("offset", TensorProto.INT64, [1]),
    ]
    outputs = [
        helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n_audio", "n_tokens", n_vocab]),
        helper.make_tensor_value_info("out_n_layer_self_k_cache", TensorProto.FLOAT, cache_shape),
        helper.make_tensor_value_info("out_n_layer_self_v_cache", TensorProto.FLOAT, cache_shape),
    ]
    return g.model(inputs, outputs, meta, "whisper_decoder")


# --------------------------------------------------------------------------


def quantize(src: Path, dst: Path, meta: dict[str, str]):
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # silence "consider pre-processing"

    quantize_dynamic(
        model_input=str(src),
        model_output=str(dst),
        op_types_to_quantize=["MatMul"],
        weight_type=QuantType.QInt8,
    )
    m = onnx.load(str(dst))
    set_meta(m, meta)  # make sure the metadata survived
    onnx.save(m, str(dst))


def self_check(enc: Path, dec: Path, dims, facts, strict: bool = True):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    e = ort.InferenceSession(str(enc), so, providers=["CPUExecutionProvider"])
    dsess = ort.InferenceSession(str(dec), so, providers=["CPUExecutionProvider"])
    T = 300
    mel = np.full((1, dims["n_mels"], T), -0.5, dtype=np.float32)
    ck, cv = e.run(None, {"mel": mel})
    L, d, n_ctx = dims["n_text_layer"], dims["n_text_state"], dims["n_text_ctx"]
    assert ck.shape == (L, 1, T // 2, d), ck.shape
    kc = np.zeros((L, 1, n_ctx, d), np.float32)
    vc = np.zeros_like(kc)
    toks = np.array([facts["sot_sequence"] + [facts["no_timestamps"]]], dtype=np.int64)
    logits, kc2, vc2 = dsess.run(None, {
        "tokens": toks, "in_n_layer_self_k_cache": kc, "in_n_layer_self_v_cache": vc,
        "n_layer_cross_k": ck, "n_layer_cross_v": cv, "offset": np.array([0], np.int64)})
    assert logits.shape == (1, toks.shape[1], dims["n_vocab"]), logits.shape
    assert kc2.shape == kc.shape
    # incremental step must agree with a full recomputation
    nxt = int(np.argmax(logits[0, -1]))
    l_inc, _, _ = dsess.run(None, {
        "tokens": np.array([[nxt]], np.int64), "in_n_layer_self_k_cache": kc2,
        "in_n_layer_self_v_cache": vc2, "n_layer_cross_k": ck, "n_layer_cross_v": cv,
        "offset": np.array([toks.shape[1]], np.int64)})
    l_full, _, _ = dsess.run(None, {
        "tokens": np.concatenate([toks, [[nxt]]], axis=1), "in_n_layer_self_k_cache": kc,
        "in_n_layer_self_v_cache": vc, "n_layer_cross_k": ck, "n_layer_cross_v": cv,
        "offset": np.array([0], np.int64)})
    diff = float(np.max(np.abs(l_inc[0, -1] - l_full[0, -1])))
    scale = max(1.0, float(np.max(np.abs(l_full))))
    # int8 dynamic quantization scales activations per call, so the cached and
    # the full pass differ a little there; fp32 must agree closely.
    # (This probe input is synthetic; real transcripts are what matter.)
    if not np.all(np.isfinite(l_inc)) or not np.all(np.isfinite(l_full)):
        raise SystemExit(f"error: self-check of {dec.name} failed: non-finite logits")
    same_top = int(np.argmax(l_inc[0, -1])) == int(np.argmax(l_full[0, -1]))
    if strict and (diff > 1e-3 * scale or not same_top):
        raise SystemExit(f"error: self-check of {dec.name} failed: cached vs full logits differ by {diff:.3g}")
    print(f"self-check {enc.name}/{dec.name} ok: cross_k {tuple(ck.shape)}, "
          f"cached-vs-full max diff {diff:.2e} (logit scale {scale:.1f})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path, help="dir with model.bin[.partN], config.json, tokenizer.json")
    ap.add_argument("out", type=Path, help="output dir")
    ap.add_argument("--no-quantize", action="store_true", help="write fp32 encoder.onnx/decoder.onnx")
    ap.add_argument("--model-type", default=None,
                    help="metadata model_type (default: whisper-<name derived from OUT dir>)")
    ap.add_argument("--no-check", action="store_true", help="skip the onnxruntime self-check")
    args = ap.parse_args(argv)

    spec, W = read_ct2(args.src)
    if spec != "WhisperSpec":
        raise SystemExit(f"error: {args.src} holds a {spec}, not a WhisperSpec")

    emb = W["decoder/embeddings/weight"]
    dims = dict(
        n_mels=int(W["encoder/conv1/weight"].shape[1]),
        n_audio_ctx=int(W["encoder/position_encodings/encodings"].shape[0]),
        n_audio_state=int(W["encoder/conv1/weight"].shape[0]),
        n_audio_head=scalar_int(W, "encoder/num_heads"),
        n_audio_layer=count_layers(W, "encoder"),
        n_vocab=int(emb.shape[0]),
        n_text_ctx=int(W["decoder/position_encodings/encodings"].shape[0]),
        n_text_state=int(emb.shape[1]),
        n_text_head=scalar_int(W, "decoder/num_heads"),
        n_text_layer=count_layers(W, "decoder"),
    )
    print("dims:", dims)
    facts = tokenizer_facts(args.src, dims["n_vocab"])

    base = args.out.name
    model_type = args.model_type or (base if base.startswith("whisper") else f"whisper-{base}")
    meta = {
        "model_type": model_type,
        "version": "1",
        "maintainer": "duplex",
        **{k: str(v) for k, v in dims.items()},
        "sot_sequence": ",".join(map(str, facts["sot_sequence"])),
        "all_language_tokens": ",".join(map(str, facts["lang_tokens"])),
        "all_language_codes": ",".join(facts["lang_codes"]),
        "sot": str(facts["sot"]),
        "sot_index": "0",
        "eot": str(facts["eot"]),
        "blank_id": str(facts["blank"]),
        "is_multilingual": str(int(facts["is_multi"])),
        "no_speech": str(facts["no_speech"]),
        "non_speech_tokens": ",".join(map(str, facts["suppress"])),
        "transcribe": str(facts["transcribe"]),
        "translate": str(facts["translate"]),
        "sot_prev": str(facts["sot_prev"]),
        "sot_lm": str(facts["sot_lm"]),
        "no_timestamps": str(facts["no_timestamps"]),
    }

    args.out.mkdir(parents=True, exist_ok=True)
    enc_m = build_encoder(W, dims, meta)
    dec_m = build_decoder(W, dims, meta)
    onnx.checker.check_model(enc_m)
    onnx.checker.check_model(dec_m)

    suffix = "" if args.no_quantize else ".int8"
    enc_out = args.out / f"encoder{suffix}.onnx"
    dec_out = args.out / f"decoder{suffix}.onnx"
    del W
    # Everything is written to a temp dir inside OUT and moved into place at
    # the end, so an interrupted run never leaves half-written model files.
    with tempfile.TemporaryDirectory(dir=args.out, prefix=".import-") as td:
        td = Path(td)
        enc32, dec32 = td / "encoder.onnx", td / "decoder.onnx"
        onnx.save(enc_m, str(enc32))
        onnx.save(dec_m, str(dec32))
        del enc_m, dec_m
        if not args.no_check:
            self_check(enc32, dec32, dims, facts, strict=True)
        if args.no_quantize:
            staged = [(enc32, enc_out), (dec32, dec_out)]
        else:
            quantize(enc32, td / enc_out.name, meta)
            quantize(dec32, td / dec_out.name, meta)
            if not args.no_check:
                self_check(td / enc_out.name, td / dec_out.name, dims, facts, strict=False)
            staged = [(td / enc_out.name, enc_out), (td / dec_out.name, dec_out)]
        (td / "tokens.txt").write_text("\n".join(facts["token_lines"]) + "\n", encoding="ascii")
        staged.append((td / "tokens.txt", args.out / "tokens.txt"))
        for a, b in staged:
            os.replace(a, b)
    for f in (enc_out, dec_out, args.out / "tokens.txt"):
        print(f"wrote {f} ({f.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
