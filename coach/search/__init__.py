"""Embeddings and the Chroma vector store: the only onnxruntime, tokenizers and chromadb imports."""
