"""The map stage: QuantizedNetwork → placement on chips and cores → routing (tags, CAM, SRAM) → HardwareConfig."""
