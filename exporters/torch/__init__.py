"""PyTorch as a second source: the article's U-Net in PyTorch, torch.onnx export, the torch reference."""
