import COpenBLAS
import Foundation

/// One pre-LayerNorm transformer block as in transformers' `CLIPEncoderLayer`:
/// `h += attn(ln1(h)); h += mlp(ln2(h))`.
struct EncoderLayer: Sendable {
    let layerNorm1: LayerNorm
    let query: Linear
    let key: Linear
    let value: Linear
    let output: Linear
    let layerNorm2: LayerNorm
    let fc1: Linear
    let fc2: Linear

    init(_ file: SafetensorsFile, _ prefix: String, _ c: TowerConfig) throws {
        let h = c.hiddenSize
        layerNorm1 = try LayerNorm(file, "\(prefix).layer_norm1", size: h, eps: c.layerNormEps)
        query = try Linear(file, "\(prefix).self_attn.q_proj", in: h, out: h)
        key = try Linear(file, "\(prefix).self_attn.k_proj", in: h, out: h)
        value = try Linear(file, "\(prefix).self_attn.v_proj", in: h, out: h)
        output = try Linear(file, "\(prefix).self_attn.out_proj", in: h, out: h)
        layerNorm2 = try LayerNorm(file, "\(prefix).layer_norm2", size: h, eps: c.layerNormEps)
        fc1 = try Linear(file, "\(prefix).mlp.fc1", in: h, out: c.intermediateSize)
        fc2 = try Linear(file, "\(prefix).mlp.fc2", in: c.intermediateSize, out: h)
    }
}

/// A stack of encoder layers, run over a batch of equal-length sequences.
struct Encoder: Sendable {
    let config: TowerConfig
    let layers: [EncoderLayer]

    init(_ file: SafetensorsFile, _ prefix: String, _ config: TowerConfig) throws {
        self.config = config
        layers = try (0..<config.numHiddenLayers).map { try EncoderLayer(file, "\(prefix).layers.\($0)", config) }
    }

    /// Runs all layers in place on `hidden`, `batch` sequences of `length` rows each.
    /// `causal` hides later positions from earlier ones (the text tower).
    func callAsFunction(_ hidden: UnsafeMutablePointer<Float>, batch: Int, length: Int, causal: Bool) {
        let h = config.hiddenSize
        let rows = batch * length
        let normed = Buffer(rows * h)
        let q = Buffer(rows * h), k = Buffer(rows * h), v = Buffer(rows * h)
        let context = Buffer(rows * h)
        let mlp = Buffer(rows * config.intermediateSize)
        let tmp = Buffer(rows * h)
        for layer in layers {
            layer.layerNorm1(hidden, rows: rows, into: normed.pointer)
            layer.query(normed.pointer, rows: rows, into: q.pointer)
            layer.key(normed.pointer, rows: rows, into: k.pointer)
            layer.value(normed.pointer, rows: rows, into: v.pointer)
            attention(q: q.pointer, k: k.pointer, v: v.pointer, out: context.pointer, batch: batch, length: length, causal: causal)
            layer.output(context.pointer, rows: rows, into: tmp.pointer)
            Vector.add(tmp.pointer, into: hidden, rows * h)

            layer.layerNorm2(hidden, rows: rows, into: normed.pointer)
            layer.fc1(normed.pointer, rows: rows, into: mlp.pointer)
            config.hiddenAct.apply(mlp.pointer, count: rows * config.intermediateSize)
            layer.fc2(mlp.pointer, rows: rows, into: tmp.pointer)
            Vector.add(tmp.pointer, into: hidden, rows * h)
        }
    }

    /// Multi-head scaled dot-product attention. Heads are column slices of the
    /// projected rows, so each head's products are strided sgemm calls with no copies.
    private func attention(q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                           out: UnsafeMutablePointer<Float>, batch: Int, length: Int, causal: Bool) {
        let h = config.hiddenSize
        let d = config.headDim
        let scale = 1 / Float(d).squareRoot()
        let scores = Buffer(length * length)
        let s = scores.pointer
        for b in 0..<batch {
            let base = b * length * h
            for head in 0..<config.numAttentionHeads {
                let offset = base + head * d
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(length), Int32(length), Int32(d),
                            scale, q + offset, Int32(h), k + offset, Int32(h), 0, s, Int32(length))
                for i in 0..<length {
                    let row = s + i * length
                    // Causal: position i sees 0...i only, so softmax over the first i+1 scores.
                    let visible = causal ? i + 1 : length
                    Vector.softmax(row, visible)
                    if visible < length { (row + visible).update(repeating: 0, count: length - visible) }
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(length), Int32(d), Int32(length),
                            1, s, Int32(length), v + offset, Int32(h), 0, out + offset, Int32(h))
            }
        }
    }
}
