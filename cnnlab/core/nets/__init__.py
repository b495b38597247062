"""The networks: the model registry and its base classes, the layer-stack builder (the student's
own network), and export (ONNX)."""
