"""What a matrix asks for, parsed once and frozen: the model, matrix.yaml, repros, build axes."""
