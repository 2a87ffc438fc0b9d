import Foundation

/// Activation functions a CLIP config may name in `hidden_act`.
public enum Activation: String, Sendable {
    case quickGELU = "quick_gelu"
    case gelu = "gelu"
    /// tanh approximation; transformers calls it both names.
    case geluTanh = "gelu_pytorch_tanh"
    case geluNew = "gelu_new"
}

/// Sizes of one transformer tower (text or vision), from `config.json`.
public struct TowerConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numAttentionHeads: Int
    public var numHiddenLayers: Int
    public var layerNormEps: Float
    public var hiddenAct: Activation

    public var headDim: Int { hiddenSize / numAttentionHeads }
}

/// The text tower's configuration.
public struct TextConfig: Sendable, Equatable {
    public var tower: TowerConfig
    public var vocabSize: Int
    public var maxPositionEmbeddings: Int
    /// transformers pools at `argmax(input_ids)` when this is 2 (configs written
    /// before the fix), else at the first position holding this id.
    public var eosTokenId: Int
}

/// The vision tower's configuration.
public struct VisionConfig: Sendable, Equatable {
    public var tower: TowerConfig
    public var imageSize: Int
    public var patchSize: Int
    public var numChannels: Int

    public var patchesPerSide: Int { imageSize / patchSize }
    public var numPositions: Int { patchesPerSide * patchesPerSide + 1 }
}

/// The subset of Hugging Face's `CLIPConfig` that inference needs. Missing keys
/// take transformers' defaults (which are ViT-B/32's), as transformers does.
public struct CLIPConfig: Sendable, Equatable {
    public var text: TextConfig
    public var vision: VisionConfig
    public var projectionDim: Int

    /// Reads and validates `config.json`.
    public init(contentsOf url: URL) throws {
        let path = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw CLIPLoadError.fileNotFound(path) }
        try self.init(json: data, path: path)
    }

    public init(json data: Data, path: String = "config.json") throws {
        let root: [String: Any]
        do {
            guard let r = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw CLIPLoadError.badConfig(path, "top level is not an object")
            }
            root = r
        } catch let e as CLIPLoadError { throw e } catch {
            throw CLIPLoadError.badConfig(path, "not valid JSON: \(error)")
        }
        let textJSON = root["text_config"] as? [String: Any] ?? [:]
        let visionJSON = root["vision_config"] as? [String: Any] ?? [:]
        let t = JSONFields(dict: textJSON, path: path, section: "text_config")
        let v = JSONFields(dict: visionJSON, path: path, section: "vision_config")
        let r = JSONFields(dict: root, path: path, section: nil)

        text = TextConfig(
            tower: try t.tower(defaults: (512, 2048, 8, 12)),
            vocabSize: try t.int("vocab_size", 49408),
            maxPositionEmbeddings: try t.int("max_position_embeddings", 77),
            eosTokenId: try t.int("eos_token_id", 49407))
        vision = VisionConfig(
            tower: try v.tower(defaults: (768, 3072, 12, 12)),
            imageSize: try v.int("image_size", 224),
            patchSize: try v.int("patch_size", 32),
            numChannels: try v.int("num_channels", 3))
        projectionDim = try r.int("projection_dim", 512)

        guard vision.imageSize % vision.patchSize == 0 else {
            throw CLIPLoadError.badConfig(path, "vision_config.image_size \(vision.imageSize) is not a multiple of patch_size \(vision.patchSize)")
        }
        for (name, tower) in [("text_config", text.tower), ("vision_config", vision.tower)] {
            guard tower.hiddenSize % tower.numAttentionHeads == 0 else {
                throw CLIPLoadError.badConfig(path, "\(name).hidden_size \(tower.hiddenSize) is not a multiple of num_attention_heads \(tower.numAttentionHeads)")
            }
        }
    }
}

/// Typed, defaulted access to one JSON object of the config, with errors naming the key.
private struct JSONFields {
    let dict: [String: Any]
    let path: String
    let section: String?

    func key(_ k: String) -> String { section.map { "\($0).\(k)" } ?? k }

    func int(_ k: String, _ fallback: Int) throws -> Int {
        guard let value = dict[k], !(value is NSNull) else { return fallback }
        // JSONSerialization gives NSNumber; reject fractional or non-numeric values.
        if let n = value as? NSNumber, let i = Int(exactly: n.doubleValue), i > 0 || k.hasSuffix("_id") {
            return i
        }
        throw CLIPLoadError.badConfig(path, "\(key(k)) must be a positive integer, found \(value)")
    }

    func float(_ k: String, _ fallback: Float) throws -> Float {
        guard let value = dict[k], !(value is NSNull) else { return fallback }
        if let n = value as? NSNumber { return n.floatValue }
        throw CLIPLoadError.badConfig(path, "\(key(k)) must be a number, found \(value)")
    }

    func activation() throws -> Activation {
        guard let value = dict["hidden_act"] else { return .quickGELU }
        guard let name = value as? String, let act = Activation(rawValue: name) else {
            throw CLIPLoadError.badConfig(path, "\(key("hidden_act")) '\(value)' is not supported (quick_gelu, gelu, gelu_new, gelu_pytorch_tanh)")
        }
        return act
    }

    func tower(defaults: (Int, Int, Int, Int)) throws -> TowerConfig {
        TowerConfig(
            hiddenSize: try int("hidden_size", defaults.0),
            intermediateSize: try int("intermediate_size", defaults.1),
            numAttentionHeads: try int("num_attention_heads", defaults.2),
            numHiddenLayers: try int("num_hidden_layers", defaults.3),
            layerNormEps: try float("layer_norm_eps", 1e-5),
            hiddenAct: try activation())
    }
}
