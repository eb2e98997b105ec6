"""The quantize stage: NetworkSpec → QuantizedNetwork (core assignment, bias codes, 4-bit weights), placement-free."""
