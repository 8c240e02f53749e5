"""com.microsoft contrib ops (onnxruntime's fused and transformer kernels)."""
