"""Step 4 of the pipeline: figures over a walked graph (parameters, cost, memory, layers,
and the optional comparison with onnx's inference), written into the Report."""
