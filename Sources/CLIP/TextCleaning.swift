/// How `CLIPTokenizer` prepares text before byte-pair encoding. The three
/// choices give different ids for some texts (non-Latin scripts, unusual spaces,
/// control characters, HTML entities, mojibake); see docs/CLIP.md.
public enum TextCleaning: String, Sendable, CaseIterable {
    /// Hugging Face's `CLIPTokenizerFast` (tokenizer.json): NFC, whitespace runs
    /// to one space, per-character lowercase, the case-sensitive split regex.
    /// What `CLIPProcessor.from_pretrained(...)` runs; the default.
    case huggingFace = "huggingface"
    /// OpenAI's own cleaning, as CLIP was trained (openai-clip, open_clip): ftfy-style
    /// repair, HTML unescaped twice, whitespace collapsed, Python's `str.lower`,
    /// the case-insensitive regex. Part of ftfy only: see `FtfySubset`.
    case openai
    /// transformers 4.x's slow `CLIPTokenizer` without ftfy (BERT's
    /// `BasicTokenizer` clean-up). Kept for the older fixtures; no current
    /// pipeline runs it.
    case transformersSlow = "transformers-slow"
}
