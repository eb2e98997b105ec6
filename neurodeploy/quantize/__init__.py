"""The quantize stage: Network → QuantizedNetwork (core assignment, bias codes, 4-bit weights), placement-free."""
