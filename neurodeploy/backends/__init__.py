"""Backends: where a HardwareConfig runs — the bit-accurate emulator or a real board through samna — behind one
interface (:mod:`.base`: load, run, close)."""
