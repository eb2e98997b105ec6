"""The hardware configuration (what the chip holds) and its encoding from a mapped network."""

from .config_json import (  # noqa: F401
    CONFIG_FORMAT, LATCHES, ChipConfig, Code, CoreConfig, Destination, HardwareConfig, InputChannel,
    InputDestination, NeuronConfig, OutputNeuron, PlacementRecord, ProfileRef, config_from_dict, load_config,
)
